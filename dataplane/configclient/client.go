// Package configclient keeps a data plane's configuration current: it holds a
// stream to the control plane, compiles what arrives, swaps it in whole and
// acknowledges it, or rejects it and keeps serving what it had. While the
// control plane is away it keeps serving the last good configuration and
// reconnects with backoff.
package configclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Client feeds a snapshot.Store from the control plane.
type Client struct {
	Conn  grpc.ClientConnInterface
	Token string
	Node  *plugsv1.Node
	Store *snapshot.Store
	Log   *slog.Logger
	// MinBackoff and MaxBackoff bound the reconnect delay; zero means 200 ms
	// and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// Run keeps the stream up until ctx ends.
func (c *Client) Run(ctx context.Context) error {
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if minB == 0 {
		minB = 200 * time.Millisecond
	}
	if maxB == 0 {
		maxB = 30 * time.Second
	}
	backoff := minB
	for {
		start := time.Now()
		err := c.stream(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) > maxB {
			backoff = minB // the stream was healthy for a while
		}
		// Full jitter: sleep a random time up to the backoff.
		d := time.Duration(rand.Int64N(int64(backoff)) + 1)
		c.log().WarnContext(ctx, "configuration stream ended; reconnecting", "error", err, "in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		backoff = min(backoff*2, maxB)
	}
}

func (c *Client) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.Token)
	st, err := plugsv1.NewConfigDiscoveryServiceClient(c.Conn).StreamConfig(ctx)
	if err != nil {
		return fmt.Errorf("configclient: open stream: %w", err)
	}
	hello := &plugsv1.StreamConfigRequest{Node: c.Node}
	if cur := c.Store.Load(); cur != nil {
		hello.VersionInfo = cur.Version
	}
	if err := st.Send(hello); err != nil {
		return fmt.Errorf("configclient: hello: %w", err)
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("configclient: receive: %w", err)
		}
		if err := st.Send(c.apply(ctx, resp)); err != nil {
			return fmt.Errorf("configclient: ack: %w", err)
		}
	}
}

// apply compiles a response and swaps it in, returning the ACK or NACK.
func (c *Client) apply(ctx context.Context, resp *plugsv1.StreamConfigResponse) *plugsv1.StreamConfigRequest {
	cur := c.Store.Load()
	ack := &plugsv1.StreamConfigRequest{ResponseNonce: resp.GetNonce()}
	if cur != nil {
		ack.VersionInfo = cur.Version
	}
	if !resp.GetFull() && (cur == nil || cur.Version != resp.GetBaseVersion()) {
		ack.ErrorDetail = &plugsv1.ConfigError{Message: fmt.Sprintf("delta on %q but holding %q", resp.GetBaseVersion(), ack.VersionInfo)}
		return ack
	}
	next, err := snapshot.Build(cur, resp.GetVersionInfo(), resp.GetFull(), resp.GetSources(), resp.GetRemovedSourceIds())
	if err != nil {
		c.log().ErrorContext(ctx, "configuration rejected; serving the previous one", "version", resp.GetVersionInfo(), "error", err)
		detail := &plugsv1.ConfigError{Message: err.Error()}
		if se := (*snapshot.SourceError)(nil); errors.As(err, &se) {
			detail.SourceId = se.ID
		}
		ack.ErrorDetail = detail
		return ack
	}
	c.Store.Swap(next)
	c.log().InfoContext(ctx, "configuration applied", "version", next.Version, "sources", len(next.Sources))
	ack.VersionInfo = next.Version
	return ack
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}
