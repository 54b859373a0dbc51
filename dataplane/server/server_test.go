package server_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/backbone"
	dpserver "github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
)

// /readyz is false until a configuration is loaded and while NATS is
// unreachable; /healthz answers throughout.
func TestReadinessFollowsConfigurationAndBackbone(t *testing.T) {
	dir := t.TempDir()
	embd, err := backbone.StartEmbedded(dir, "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	url := embd.URL()
	port, _ := strconv.Atoi(url[strings.LastIndex(url, ":")+1:])
	t.Cleanup(func() { embd.Shutdown() })
	nc, err := backbone.Connect(context.Background(), backbone.Options{URL: url, Name: "readiness test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	store := &snapshot.Store{}
	srv, err := dpserver.Start(dpserver.Config{Addr: "127.0.0.1:0", Store: store, Backbone: nc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := get("/readyz")
			if code == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz %d %s, want %d", what, code, body, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no configuration") {
		t.Fatalf("before a configuration: %d %s", code, body)
	}
	store.Swap(&snapshot.Config{Version: "1"})
	waitFor("configuration loaded, NATS up", http.StatusOK)

	embd.Shutdown()
	waitFor("NATS down", http.StatusServiceUnavailable)
	if code, body := get("/readyz"); !strings.Contains(body, "backbone") {
		t.Fatalf("NATS down: %d %s does not name the backbone", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d while NATS is down", code)
	}

	embd, err = backbone.StartEmbedded(dir, "127.0.0.1", port, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor("NATS back", http.StatusOK)
}
