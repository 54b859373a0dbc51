// Package listen is the client side of plugs listen: it holds a
// ListenService stream open to the control plane, posts each webhook it
// carries to a local URL, signed as a destination delivery is, and prints
// a line per webhook. The machine it runs on dials out and needs no
// inbound port. A broken stream is opened again with the cursor of the
// last message handled, so nothing is lost or posted twice while it runs.
package listen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/consumer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Defaults of a Client's zero fields.
const (
	// DefaultIdleTimeout is three of the server's 15 s heartbeats.
	DefaultIdleTimeout = 45 * time.Second
	// DefaultTimeout bounds one request to the local URL, as a
	// destination's default timeout does.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBackoff is the longest wait between two attempts to open
	// the stream again.
	DefaultMaxBackoff = 5 * time.Second
	minBackoff        = 100 * time.Millisecond
	// maxMessage bounds one streamed message: a raw request holds a body
	// of up to a megabyte and its headers.
	maxMessage = 8 << 20
)

// Client follows a tenant's webhooks. Its fields are read by Run.
type Client struct {
	// Conn reaches the control plane; the context given to Run carries
	// the API key.
	Conn grpc.ClientConnInterface
	// SourceIDs are the sources to follow; empty follows every source of
	// the tenant.
	SourceIDs []string
	// Raw posts the requests as the provider sent them instead of the
	// usage events.
	Raw bool
	// ForwardTo is the local URL webhooks are posted to; empty only
	// prints them.
	ForwardTo string
	// Signer signs what is posted, as a destination with its key and
	// style would be signed.
	Signer *consumer.Signer
	// HTTP posts to ForwardTo; nil means a client with DefaultTimeout
	// that follows no redirect.
	HTTP *http.Client
	// Out gets the lines: Ready, then one per webhook.
	Out io.Writer
	// IdleTimeout is DefaultIdleTimeout when zero.
	IdleTimeout time.Duration
	// MaxBackoff is DefaultMaxBackoff when zero.
	MaxBackoff time.Duration
	Log        *slog.Logger
}

// Run follows the stream until ctx ends (nil then) or the control plane
// refuses it for good: a bad key, a source that is not the tenant's, no
// backbone. Before the stream was ever ready only an unreachable control
// plane is retried; after, every transient failure is, with the last
// cursor.
func (c *Client) Run(ctx context.Context) error {
	s := &session{c: c, client: plugsv1.NewListenServiceClient(c.Conn), http: c.httpClient()}
	backoff := minBackoff
	for {
		progressed, err := s.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !s.ready && !retryBeforeReady(err) || s.ready && !retryAfterReady(err) {
			return err
		}
		if progressed {
			backoff = minBackoff
		}
		c.log().Warn("listen stream broken; resuming", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.maxBackoff())
	}
}

// session is the state kept across the streams of one Run.
type session struct {
	c      *Client
	client plugsv1.ListenServiceClient
	http   *http.Client
	// cursor is that of the last message handled.
	cursor string
	// ready is set once a stream was ready.
	ready bool
}

// run opens one stream and handles its messages until it breaks. It
// reports whether any message came.
func (s *session) run(ctx context.Context) (progressed bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := s.client.Listen(sctx, &plugsv1.ListenRequest{SourceIds: s.c.SourceIDs, Raw: s.c.Raw, ResumeToken: s.cursor},
		grpc.MaxCallRecvMsgSize(maxMessage))
	if err != nil {
		return false, err
	}
	idle := time.AfterFunc(s.c.idleTimeout(), func() { cancel(ErrIdle) })
	defer idle.Stop()
	for {
		resp, err := stream.Recv()
		if err != nil {
			if cause := context.Cause(sctx); errors.Is(cause, ErrIdle) {
				return progressed, cause
			}
			return progressed, err
		}
		idle.Reset(s.c.idleTimeout())
		progressed = true
		switch k := resp.GetKind().(type) {
		case *plugsv1.ListenResponse_Ready:
			if !s.ready {
				s.printReady(k.Ready)
			} else {
				s.c.log().Info("listen stream resumed")
			}
			s.ready = true
		case *plugsv1.ListenResponse_Event:
			// The idle clock stops while the local URL takes its time.
			idle.Stop()
			s.handle(ctx, k.Event)
			idle.Reset(s.c.idleTimeout())
		}
		// Handled: a stream opened again starts after it.
		s.cursor = resp.GetCursor()
	}
}

func (s *session) printReady(r *plugsv1.ListenReady) {
	what := "usage events"
	if r.GetRaw() {
		what = "requests as received"
	}
	n := fmt.Sprintf("%d sources", len(r.GetSourceIds()))
	switch {
	case len(s.c.SourceIDs) == 0:
		n = fmt.Sprintf("every source (%d now)", len(r.GetSourceIds()))
	case len(r.GetSourceIds()) == 1:
		n = "source " + r.GetSourceIds()[0]
	}
	to := "printing only (no --forward-to)"
	if s.c.ForwardTo != "" {
		to = "forwarding to " + s.c.ForwardTo
	}
	fmt.Fprintf(s.c.Out, "Ready: %s of %s, %s. Ctrl-C to stop.\n", what, n, to)
}

// handle posts one webhook and prints its line.
func (s *session) handle(ctx context.Context, ev *plugsv1.ListenEvent) {
	r := result{}
	if s.c.ForwardTo != "" {
		r = s.forward(ctx, ev)
	}
	if ctx.Err() != nil {
		// Stopped while posting: the line would only say so.
		return
	}
	printLine(s.c.Out, ev, r)
}

// retryBeforeReady: before any stream was ready, only a control plane not
// reachable yet is worth waiting for; anything else is a mistake to show.
func retryBeforeReady(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return errors.Is(err, ErrIdle)
}

// retryAfterReady: a stream that worked is resumed after any failure that
// may pass: the network, a restarting or overloaded control plane.
func retryAfterReady(err error) bool {
	if errors.Is(err, ErrIdle) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown,
		codes.ResourceExhausted, codes.Aborted, codes.Canceled:
		return true
	}
	return false
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{
		Timeout: DefaultTimeout,
		// A delivery is never redirected; the local handler's redirect
		// is its answer, printed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return c.IdleTimeout
}

func (c *Client) maxBackoff() time.Duration {
	if c.MaxBackoff <= 0 {
		return DefaultMaxBackoff
	}
	return c.MaxBackoff
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}
