package main

import (
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("GOMEMLIMIT", "")

	if err := applyMemoryLimit("140MiB", log); err != nil || debug.SetMemoryLimit(-1) != 140<<20 {
		t.Fatalf("140MiB: %v, limit %d", err, debug.SetMemoryLimit(-1))
	}
	if err := applyMemoryLimit("none", log); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("none: %v", err)
	}
	for _, bad := range []string{"lots", "-5MiB", "12XB"} {
		if err := applyMemoryLimit(bad, log); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}

	// auto: 80% of the cgroup's limit, nothing when it says max.
	dir := t.TempDir()
	cg := filepath.Join(dir, "memory.max")
	old := cgroupMemoryMax
	cgroupMemoryMax = cg
	t.Cleanup(func() { cgroupMemoryMax = old })
	if err := os.WriteFile(cg, []byte("209715200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := applyMemoryLimit("auto", log); err != nil || debug.SetMemoryLimit(-1) != 167772160 {
		t.Fatalf("auto under 200 MiB: %v, limit %d", err, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if err := os.WriteFile(cg, []byte("max\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := applyMemoryLimit("auto", log); err != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("auto without a limit: %v, limit %d", err, debug.SetMemoryLimit(-1))
	}
}
