// Package backbone starts and reaches NATS JetStream, the data planes'
// durable store: embedded in the single binary for development, an external
// cluster in production, the same client code for both.
package backbone

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded is a nats-server running inside this process.
type Embedded struct {
	srv *server.Server
}

// Durability is how eagerly the embedded server writes to disk.
type Durability int

const (
	// DurabilityDefault is JetStream's default: every write reaches the
	// operating system before it is acknowledged, and the server syncs its
	// files to disk every two minutes. An acknowledged event survives the
	// process being killed; it may be lost if the machine loses power
	// within those two minutes.
	DurabilityDefault Durability = iota
	// DurabilityFsync syncs every write to disk before acknowledging it
	// (SyncAlways): an acknowledged event survives a power loss too, at a
	// large cost in throughput (see docs/benchmarks.md).
	DurabilityFsync
)

// StartEmbedded runs a JetStream-enabled nats-server with its file store
// under storeDir, listening on host:port (port -1 picks a free one).
func StartEmbedded(storeDir, host string, port int, log *slog.Logger) (*Embedded, error) {
	return StartEmbeddedWith(storeDir, host, port, DurabilityDefault, log)
}

// startTimeout bounds how long the embedded server may take to accept
// connections (recovering a large file store takes a while).
const startTimeout = 15 * time.Second

// StartEmbeddedWith is StartEmbedded with a durability mode. A server that
// cannot start, its port taken say, fails at once (ErrListen names the
// address), not after startTimeout.
func StartEmbeddedWith(storeDir, host string, port int, d Durability, log *slog.Logger) (*Embedded, error) {
	opts := &server.Options{
		ServerName: "plugs-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		SyncAlways: d == DurabilityFsync,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("backbone: embedded server: %w", err)
	}
	sl := &serverLog{log: log, fatal: make(chan error, 1)}
	if sl.log == nil {
		sl.log = slog.New(slog.DiscardHandler)
	}
	srv.SetLoggerV2(sl, false, false, false)
	srv.Start()
	deadline := time.Now().Add(startTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		var err error
		select {
		case err = <-sl.fatal:
		default:
			if time.Now().After(deadline) {
				err = fmt.Errorf("%w: not accepting connections after %s", ErrNotStarted, startTimeout)
			}
		}
		if err != nil {
			srv.Shutdown()
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "listen" {
				return nil, fmt.Errorf("%w on %s: %w", ErrListen, net.JoinHostPort(host, strconv.Itoa(port)), op.Err)
			}
			return nil, err
		}
	}
	if log != nil {
		log.Info("embedded NATS JetStream started", "url", srv.ClientURL(), "store", storeDir, "fsync_every_write", d == DurabilityFsync)
	}
	return &Embedded{srv: srv}, nil
}

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
