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
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
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
	// Persist, when set, is given each configuration applied, to keep a copy
	// a restarted data plane can serve before the control plane answers
	// (snapshotfile.Save). It runs on its own goroutine so a slow disk never
	// delays an ACK, and it is given only the latest configuration: versions
	// that arrive while a write is under way are skipped. A failure is logged
	// and never NACKs: the configuration is good, only its copy is not.
	Persist func(*snapshot.Config) error
	// Observer, when set, is told of each version received and each
	// reconnect (metrics.DataPlane).
	Observer Observer
}

// Observer is told what the configuration stream does.
type Observer interface {
	ConfigApplied(version string, ok bool)
	StreamReconnect()
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
	var p *persister
	if c.Persist != nil {
		p = &persister{save: c.Persist, log: c.log(), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
		go p.run(context.WithoutCancel(ctx))
		// Run returns only once the last configuration applied is written,
		// so a clean shutdown leaves the newest copy on disk.
		defer p.close()
	}
	backoff := minB
	for {
		start := time.Now()
		err := c.stream(ctx, p)
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
		if c.Observer != nil {
			c.Observer.StreamReconnect()
		}
	}
}

func (c *Client) stream(ctx context.Context, p *persister) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.Token)
	st, err := plugsv1.NewConfigDiscoveryServiceClient(c.Conn).StreamConfig(ctx)
	if err != nil {
		return fmt.Errorf("configclient: open stream: %w", err)
	}
	hello := &plugsv1.StreamConfigRequest{Node: c.Node}
	holding(hello, c.Store.Load())
	if err := st.Send(hello); err != nil {
		return fmt.Errorf("configclient: hello: %w", err)
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("configclient: receive: %w", err)
		}
		ack, applied := c.apply(ctx, resp)
		if c.Observer != nil {
			c.Observer.ConfigApplied(ack.GetVersionInfo(), applied != nil)
		}
		err = st.Send(ack)
		// Offered after the ACK, and even when the ACK failed: the
		// configuration is swapped in and served either way.
		p.offer(applied)
		if err != nil {
			return fmt.Errorf("configclient: ack: %w", err)
		}
	}
}

// apply compiles a response and swaps it in, returning the ACK or NACK and
// the configuration swapped in (nil on a NACK).
func (c *Client) apply(ctx context.Context, resp *plugsv1.StreamConfigResponse) (*plugsv1.StreamConfigRequest, *snapshot.Config) {
	cur := c.Store.Load()
	ack := &plugsv1.StreamConfigRequest{ResponseNonce: resp.GetNonce()}
	holding(ack, cur)
	if !resp.GetFull() && (cur == nil || cur.Version != resp.GetBaseVersion()) {
		ack.ErrorDetail = &plugsv1.ConfigError{Message: fmt.Sprintf("delta on %q but holding %q", resp.GetBaseVersion(), ack.VersionInfo)}
		return ack, nil
	}
	next, err := snapshot.Apply(cur, resp)
	if err != nil {
		c.log().ErrorContext(ctx, "configuration rejected; serving the previous one", "version", resp.GetVersionInfo(), "error", err)
		detail := &plugsv1.ConfigError{Message: err.Error()}
		if se := (*snapshot.SourceError)(nil); errors.As(err, &se) {
			detail.SourceId = se.ID
		}
		ack.ErrorDetail = detail
		return ack, nil
	}
	c.Store.Swap(next)
	c.log().InfoContext(ctx, "configuration applied", "version", next.Version, "sources", len(next.Sources))
	for _, w := range resp.GetWithheldSources() {
		c.log().WarnContext(ctx, "source withheld by the control plane; serving the version held", "source_id", w.GetId(),
			"held", next.Sources[w.GetId()] != nil, "reason", w.GetReason())
	}
	for _, w := range resp.GetWithheldDestinations() {
		c.log().WarnContext(ctx, "destination withheld by the control plane; serving the version held", "destination_id", w.GetId(),
			"held", next.Destinations[w.GetId()] != nil, "reason", w.GetReason())
	}
	holding(ack, next)
	return ack, next
}

// holding says in req what the data plane serves: cfg's version and the
// entries it serves from before the control plane withheld them, which
// the control plane sends as soon as it can build them.
func holding(req *plugsv1.StreamConfigRequest, cfg *snapshot.Config) {
	if cfg == nil {
		return
	}
	req.VersionInfo = cfg.Version
	req.WithheldSourceIds = slices.Sorted(maps.Keys(cfg.WithheldSources))
	req.WithheldDestinationIds = slices.Sorted(maps.Keys(cfg.WithheldDestinations))
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// persister writes configurations off the stream's path. It holds only the
// latest one offered: offers made while a write is under way replace each
// other, so a burst of versions costs one more write, not one per version.
type persister struct {
	save   func(*snapshot.Config) error
	log    *slog.Logger
	latest atomic.Pointer[snapshot.Config]
	wake   chan struct{} // capacity 1: one pending signal covers any number of offers
	stop   chan struct{} // closed once nothing more will be offered
	done   chan struct{} // closed when the last write is over
}

// offer hands cfg over to be written; it never blocks. A nil persister or
// configuration is ignored.
func (p *persister) offer(cfg *snapshot.Config) {
	if p == nil || cfg == nil {
		return
	}
	p.latest.Store(cfg)
	select {
	case p.wake <- struct{}{}:
	default: // a signal is already pending; it will pick up cfg
	}
}

func (p *persister) run(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-p.wake:
			p.write(ctx)
		case <-p.stop:
			p.write(ctx) // an offer whose signal lost the race with stop
			return
		}
	}
}

// close waits for the configuration offered last to be written. Called once
// the stream is over, so no offer can come after it.
func (p *persister) close() {
	close(p.stop)
	<-p.done
}

func (p *persister) write(ctx context.Context) {
	cfg := p.latest.Swap(nil)
	if cfg == nil {
		return
	}
	if err := p.save(cfg); err != nil {
		p.log.WarnContext(ctx, "could not persist the configuration; a restart would serve an older copy or wait for the control plane", "version", cfg.Version, "error", err)
		return
	}
	p.log.DebugContext(ctx, "configuration persisted", "version", cfg.Version)
}
