package forward

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/tracing"
)

// RouterName is the durable consumer on the events stream that every data
// plane pulls from; JetStream spreads the events among them.
const RouterName = "plugs-router"

// routerAckWait bounds how long an event a data plane took and lost is
// held before another routes it: well inside the deliveries stream's dedup
// window, so routing it again creates no second delivery.
const routerAckWait = 30 * time.Second

// routerRetry is how long an event waits after its routing failed.
const routerRetry = time.Second

// routeConcurrency is how many events a data plane routes at once. Each
// waits for its deliveries to be stored, a round trip to the backbone; one
// at a time, routing would hold forwarding to one event per round trip,
// below the rate webhooks are accepted at.
const routeConcurrency = 32

// router turns each stored event into one delivery per destination.
type router struct {
	f        *Forwarder
	cc       jetstream.ConsumeContext
	stopping atomic.Bool
	// sem holds a slot per event being routed.
	sem      chan struct{}
	mu       sync.Mutex // orders inflight.Add against stop's Wait
	inflight sync.WaitGroup
}

func (f *Forwarder) startRouter(ctx context.Context) (*router, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.PublishTimeout)
	defer cancel()
	cons, err := f.js.CreateOrUpdateConsumer(ctx, backbone.EventsStream, jetstream.ConsumerConfig{
		Durable:       RouterName,
		Description:   "Plugs router: one delivery per event and destination",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       routerAckWait,
		MaxDeliver:    -1,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: consumer %s: %w", ErrBackbone, RouterName, err)
	}
	r := &router{f: f, sem: make(chan struct{}, routeConcurrency)}
	r.cc, err = cons.Consume(r.receive,
		jetstream.PullMaxMessages(100),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			f.log.Warn("router consumer", "error", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("%w: consume %s: %w", ErrBackbone, RouterName, err)
	}
	return r, nil
}

// stop stops routing. The event being routed is finished; those buffered
// are handed back at once.
func (r *router) stop() {
	r.mu.Lock()
	r.stopping.Store(true)
	r.mu.Unlock()
	r.cc.Drain()
	select {
	case <-r.cc.Closed():
	case <-time.After(routerAckWait):
	}
	r.inflight.Wait()
}

// receive is the consumer's callback: it routes the event on a goroutine
// of its own, up to routeConcurrency at once, and returns.
func (r *router) receive(msg jetstream.Msg) {
	r.mu.Lock()
	if r.stopping.Load() {
		r.mu.Unlock()
		_ = msg.Nak()
		return
	}
	r.inflight.Add(1)
	r.mu.Unlock()
	r.sem <- struct{}{}
	go func() {
		defer func() {
			<-r.sem
			r.inflight.Done()
		}()
		r.route(msg)
	}()
}

func (r *router) closed() bool {
	select {
	case <-r.cc.Closed():
		return true
	default:
		return false
	}
}

// route publishes a delivery of the event to each destination it is
// routed to, then acknowledges it. The deliveries carry Nats-Msg-Id
// "<event id>:<destination id>", so when the ack is lost and the event is
// routed again, by this data plane or another, the server stores each
// delivery once. Events of a tenant without destinations are acknowledged
// and stay in the events stream for their dedup window.
func (r *router) route(msg jetstream.Msg) {
	if r.stopping.Load() {
		_ = msg.Nak()
		return
	}
	f := r.f
	md, err := msg.Metadata()
	if err != nil {
		f.log.Error("event without metadata", "error", err)
		_ = msg.Nak()
		return
	}
	ev := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		// Nothing can route it, now or later.
		f.log.Error("stored event cannot be decoded; not routed", "subject", msg.Subject(), "seq", md.Sequence.Stream, "error", err)
		_ = msg.TermWithReason("undecodable")
		return
	}
	id := ev.GetId()
	if id == "" {
		id = msg.Headers().Get(HeaderEventID)
	}
	if id == "" {
		id = "seq-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	accepted := md.Timestamp
	if rt := ev.GetReceiveTime(); rt != nil && rt.IsValid() {
		accepted = rt.AsTime()
	}
	for _, d := range f.dests.ForEvent(ev.GetTenantId(), ev.GetSourceId()) {
		if !Routes(d, ev.GetTenantId(), ev.GetSourceId()) || !routable(d) {
			continue
		}
		if err := checkID(d.GetId()); err != nil {
			f.log.Error("destination skipped", "error", err)
			continue
		}
		out := nats.NewMsg(backbone.DeliverySubject(d.GetId()))
		out.Data = msg.Data()
		out.Header.Set(HeaderEventID, id)
		out.Header.Set(HeaderDestinationID, d.GetId())
		out.Header.Set(HeaderAccepted, accepted.UTC().Format(time.RFC3339Nano))
		// Each delivery's attempts join the webhook's trace.
		tracing.Copy(out.Header, msg.Headers())
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.PublishTimeout)
		_, err := f.js.PublishMsg(ctx, out,
			jetstream.WithMsgID(id+":"+d.GetId()),
			jetstream.WithExpectStream(backbone.DeliveriesStream))
		cancel()
		if err != nil {
			// The deliveries already written are deduplicated when the
			// event is routed again.
			f.log.Warn("event not routed; routing it again", "event", id, "destination", d.GetId(), "error", err)
			_ = msg.NakWithDelay(routerRetry)
			return
		}
	}
	if err := msg.Ack(); err != nil {
		f.log.Warn("event routed, but not acknowledged; its deliveries are deduplicated when it comes back", "event", id, "error", err)
	}
}
