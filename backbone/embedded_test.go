package backbone_test

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/backbone"
)

// A port already taken fails the start at once, naming the address; it
// used to wait out the start timeout and say only that the server did not
// start.
func TestEmbeddedPortTakenFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	begin := time.Now()
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", port, nil)
	if err == nil {
		srv.Shutdown()
		t.Fatal("started on a taken port")
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("took %s to fail", took)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if !errors.Is(err, backbone.ErrListen) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q: want ErrListen naming %s", err, addr)
	}
}

// A file store that cannot be created fails the start at once too.
func TestEmbeddedBadStoreFailsAtOnce(t *testing.T) {
	file := t.TempDir() + "/file"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	srv, err := backbone.StartEmbedded(file+"/nats", "127.0.0.1", -1, nil)
	if err == nil {
		srv.Shutdown()
		t.Fatal("started with a store under a regular file")
	}
	if !errors.Is(err, backbone.ErrNotStarted) || time.Since(begin) > 5*time.Second {
		t.Fatalf("error %q after %s", err, time.Since(begin))
	}
}
