package datadir_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/plugshq/plugs/internal/datadir"
)

// One holder at a time; the second is told who holds the directory and
// what keys it holds; the lock goes with Release.
func TestLockIsExclusiveAndNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := datadir.Acquire(dir, datadir.Holder{Command: "plugs dev", KeyFile: "/k/master.key"})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SetKeyIDs([]string{"k1", "k2"}); err != nil {
		t.Fatal(err)
	}
	_, err = datadir.Acquire(dir, datadir.Holder{Command: "plugs controlplane"})
	var inUse *datadir.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, datadir.ErrInUse) {
		t.Fatalf("second acquire: %v", err)
	}
	h := inUse.Holder
	if h == nil || h.Command != "plugs dev" || h.PID != os.Getpid() || h.KeyFile != "/k/master.key" || !slices.Equal(h.KeyIDs, []string{"k1", "k2"}) {
		t.Fatalf("holder %+v", h)
	}
	if !strings.Contains(err.Error(), "in use by plugs dev (pid") {
		t.Fatalf("message %q", err)
	}
	// Fewer keys later: the file is rewritten, not appended to.
	if err := first.SetKeyIDs([]string{"k2"}); err != nil {
		t.Fatal(err)
	}
	if h, err := datadir.Read(dir); err != nil || !slices.Equal(h.KeyIDs, []string{"k2"}) {
		t.Fatalf("read %+v %v", h, err)
	}
	first.Release()
	second, err := datadir.Acquire(dir, datadir.Holder{Command: "plugs controlplane"})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.Release()
}
