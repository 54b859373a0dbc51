// Package forward delivers stored usage events to the customers'
// destinations: the forwarder of a data plane.
//
// An event travels through three streams. The receiver stores it in
// backbone.EventsStream. The router (one durable consumer shared by every
// data plane) writes one delivery per destination the event is routed to
// into backbone.DeliveriesStream, on the destination's own subject. A
// deliverer per active destination (one durable consumer each) POSTs the
// delivery as a signed CloudEvent, and acknowledges it, schedules it again
// with a backoff, or moves it to backbone.DeadStream, from where Redrive
// queues it again. All state is in the streams: a data plane that stops,
// crashes or scales out loses nothing and, since every write is
// deduplicated by an id derived from what it copies, duplicates nothing
// either; an attempt cut off by a crash is made again, so a destination
// sees each event at least once and should deduplicate on its id.
package forward

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/egress"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Options configure a Forwarder.
type Options struct {
	// Client sends the attempts. Nil means Guard's client; each attempt is
	// bounded by its destination's timeout through its context, so the
	// client needs no timeout of its own.
	Client *http.Client
	// Guard decides which addresses deliveries may reach when Client is
	// nil. Nil refuses every private address.
	Guard *egress.Guard
	Log   *slog.Logger
	// OnAttempt, when set, is called after each attempt with its record,
	// from the attempt's goroutine: it must be safe for concurrent use and
	// quick, since the attempt's slot is held until it returns.
	OnAttempt func(Attempt)
	// ReconcileEvery is how often the destination set is read again to
	// start, stop or update deliverers; 0 means a second. Reconcile
	// asks for it at once.
	ReconcileEvery time.Duration
	// PublishTimeout bounds each write to JetStream; 0 means 5 s.
	PublishTimeout time.Duration
	// Tracing, when set, gives each attempt a span in the webhook's trace
	// and sends its traceparent to the destination; nil means neither.
	Tracing trace.TracerProvider
	// CircuitThreshold is how many attempts in a row must fail (no
	// answer, 5xx, 429, a status the retry policy retries) to open a
	// destination's circuit; 0 means DefaultCircuitThreshold.
	CircuitThreshold int
	// ProbeBackoff is how long an open circuit waits before its first
	// probe, doubling after each failed probe up to MaxProbeBackoff; 0
	// means DefaultProbeBackoff and DefaultMaxProbeBackoff.
	ProbeBackoff, MaxProbeBackoff time.Duration
	// OnCircuit, when set, is told each change of a destination's circuit,
	// in order, CircuitStopped when its deliveries stop. It is called with
	// the deliverer's lock held: it must be quick and must not call the
	// forwarder.
	OnCircuit func(destinationID string, s CircuitState)
}

// Forwarder routes stored events to destinations and delivers them.
type Forwarder struct {
	js     jetstream.JetStream
	dests  Destinations
	opts   Options
	log    *slog.Logger
	client *http.Client
	kick   chan struct{}
	// tracer is nil when tracing is off.
	tracer trace.Tracer

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the goroutine in Run.
	router     *router
	deliverers map[string]*deliverer
	invalid    map[string]*plugsv1.DestinationConfig
	// known are the destinations reconciliations have seen; forgotten are
	// the deletions already cleared from the backbone (forget.go).
	known     map[string]bool
	forgotten map[string]bool
	stopping  sync.WaitGroup
}

// New returns a forwarder reading destinations from dests. The streams
// must exist (backbone.EnsureStreams).
func New(js jetstream.JetStream, dests Destinations, opts Options) *Forwarder {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = time.Second
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 5 * time.Second
	}
	client := opts.Client
	if client == nil {
		client = opts.Guard.Client(0)
	}
	var tracer trace.Tracer
	if opts.Tracing != nil {
		tracer = opts.Tracing.Tracer(tracerName)
	}
	return &Forwarder{
		tracer:     tracer,
		js:         js,
		dests:      dests,
		opts:       opts,
		log:        opts.Log.With("component", "forwarder"),
		client:     client,
		kick:       make(chan struct{}, 1),
		deliverers: map[string]*deliverer{},
		invalid:    map[string]*plugsv1.DestinationConfig{},
		known:      map[string]bool{},
		forgotten:  map[string]bool{},
	}
}

// Run routes and delivers until ctx is done or Stop is called, then stops
// gracefully: attempts in flight are finished and settled, deliveries not
// yet started are left in the stream for the next start or another data
// plane. Failures to reach JetStream are logged and retried; Run returns
// nil when stopped, ErrRunning when the forwarder is already running.
//
// The router acknowledges an event once it is routed to the destinations
// Destinations knows at that moment, so start Run only once the
// destination configuration is loaded.
func (f *Forwarder) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.done != nil {
		f.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	f.cancel, f.done = cancel, done
	f.mu.Unlock()
	defer func() {
		cancel()
		f.mu.Lock()
		f.cancel, f.done = nil, nil
		f.mu.Unlock()
		close(done)
	}()

	tick := time.NewTicker(f.opts.ReconcileEvery)
	defer tick.Stop()
	for {
		f.reconcile(ctx)
		select {
		case <-ctx.Done():
			f.shutdown()
			return nil
		case <-tick.C:
		case <-f.kick:
		}
	}
}

// Stop stops Run and waits for it to return.
func (f *Forwarder) Stop() {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Reconcile asks Run to read the destination set now rather than at its
// next tick, after a configuration change.
func (f *Forwarder) Reconcile() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// reconcile makes the running consumers match the configuration: the
// router always, a deliverer per active destination. A paused or absent
// destination's deliverer stops (its deliveries wait in the stream); only
// a deleted one's deliveries are dropped (forgetDeleted); a
// changed one is updated in place, or restarted when its timeout or
// concurrency changed, since its consumer's AckWait and MaxAckPending
// follow them. Stopping waits for attempts in flight, so it runs aside and
// does not hold up the other destinations.
func (f *Forwarder) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if f.router != nil && f.router.closed() {
		f.log.Warn("router stopped on its own; starting it again")
		f.router = nil
	}
	if f.router == nil {
		r, err := f.startRouter(ctx)
		if err != nil {
			f.log.Warn("router not started", "error", err)
		} else {
			f.router = r
		}
	}

	want := map[string]*plugsv1.DestinationConfig{}
	for _, d := range f.dests.All() {
		if d == nil {
			continue
		}
		f.known[d.GetId()] = true
		if active(d) {
			want[d.GetId()] = d
		}
	}
	f.forgetDeleted(ctx)
	for id, dl := range f.deliverers {
		if _, ok := want[id]; !ok {
			f.log.Info("deliveries stopped: destination paused or removed", "destination", id)
			f.stopAside(id, dl)
		}
	}
	for id := range f.invalid {
		if _, ok := want[id]; !ok {
			delete(f.invalid, id)
		}
	}
	for id, cfg := range want {
		dl := f.deliverers[id]
		if dl != nil && dl.closed() {
			f.log.Warn("deliveries stopped on their own; starting them again", "destination", id)
			f.stopAside(id, dl)
			dl = nil
		}
		if dl != nil && proto.Equal(dl.dest.Load().cfg, cfg) {
			continue
		}
		d, err := compile(cfg)
		if err != nil {
			if prev := f.invalid[id]; prev == nil || !proto.Equal(prev, cfg) {
				f.log.Error("destination not delivered to until its configuration is fixed", "destination", id, "error", err)
			}
			f.invalid[id] = cfg
			if dl != nil {
				// Delivering with the previous key or URL would deliver
				// where the customer no longer wants it.
				f.stopAside(id, dl)
			}
			continue
		}
		delete(f.invalid, id)
		if dl != nil {
			old := dl.dest.Load()
			if old.timeout == d.timeout && old.maxConc == d.maxConc {
				dl.dest.Store(d)
				dl.reconfigured()
				continue
			}
			f.stopAside(id, dl)
		}
		ndl, err := f.startDeliverer(ctx, d)
		if err != nil {
			f.log.Warn("deliveries not started", "destination", id, "error", err)
			continue
		}
		f.deliverers[id] = ndl
		f.log.Info("deliveries started", "destination", id, "max_concurrency", d.maxConc, "timeout", d.timeout)
	}
}

// stopAside stops a deliverer without waiting for it; shutdown waits.
func (f *Forwarder) stopAside(id string, dl *deliverer) {
	delete(f.deliverers, id)
	f.stopping.Go(dl.stop)
}

// shutdown stops routing and every deliverer, and waits for attempts in
// flight.
func (f *Forwarder) shutdown() {
	if f.router != nil {
		f.router.stop()
		f.router = nil
	}
	for id, dl := range f.deliverers {
		f.stopAside(id, dl)
	}
	f.stopping.Wait()
}
