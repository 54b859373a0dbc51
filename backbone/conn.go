package backbone

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options say how to reach NATS.
type Options struct {
	// URL of the server or cluster, for example "nats://nats-0:4222,nats://nats-1:4222".
	URL string
	// CredsFile is a NATS credentials file (JWT and seed); empty for none.
	CredsFile string
	// TLS, when set, is used for the connection.
	TLS *tls.Config
	// Name identifies this client to the server.
	Name string
	Log  *slog.Logger
}

// Conn is a JetStream connection.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect reaches NATS and JetStream. The connection reconnects forever in
// the background; writes made while it is down fail within their own
// timeout rather than queueing.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				log.Warn("NATS disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.TLS != nil {
		opts = append(opts, nats.Secure(o.TLS))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("backbone: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("backbone: jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains the connection.
func (c *Conn) Close() {
	_ = c.NC.Drain()
}

// Connected reports whether the connection to NATS is up now; while it is
// not, nothing can be stored and a data plane is not ready.
func (c *Conn) Connected() bool { return c.NC.IsConnected() }
