package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// plugs dev on a port another process holds fails, naming the address and
// the flag that moves it, for each of its listeners, instead of waiting out
// a start-up timeout (the embedded NATS's was 15 s, past this test's
// deadline: an error naming the address is what shows it did not wait).
func TestDevPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-port", port}, "--nats-port (PLUGS_NATS_PORT)"},
		{[]string{"--nats-port", "-1", "--grpc-addr", addr}, "--grpc-addr (PLUGS_GRPC_ADDR)"},
		{[]string{"--nats-port", "-1", "--http-addr", addr}, "--http-addr (PLUGS_HTTP_ADDR)"},
		{[]string{"--nats-port", "-1", "--ingest-addr", addr}, "--ingest-addr (PLUGS_INGEST_ADDR)"},
	} {
		args := append([]string{"--data-dir", t.TempDir(), "--memory-limit", "none",
			"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--ingest-addr", "127.0.0.1:0"}, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := runDev(ctx, args, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want the address %s and %s", tc.args, err, addr, tc.want)
		}
	}
}
