package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/egress"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/tracing"
)

// ackMargin is added to a destination's timeout to make its consumer's
// AckWait: the attempt and then the write of its outcome (an ack, a retry,
// a dead letter) must fit before the server hands the delivery to another
// data plane.
const ackMargin = 30 * time.Second

// deadLetterRetry is how long a delivery whose dead letter could not be
// written waits before it is handled again.
const deadLetterRetry = 5 * time.Second

// probeFetchWait bounds each wait for a delivery to probe with; while the
// stream has none, the fetch is made again.
const probeFetchWait = time.Second

// pullWait bounds each pull for deliveries while the circuit is closed:
// while the destination has none, an idle deliverer asks the server again
// this often. Under 10 s, so the pull has no heartbeat whose loss would end
// it early (see pull).
const pullWait = 9 * time.Second

// pullRetry is the pause after a pull that failed (the connection is
// down, say) before the next.
const pullRetry = time.Second

// userAgent identifies deliveries in the destination's logs.
const userAgent = "Plugs-Forwarder/1"

// deliverer consumes the deliveries of one destination. Each destination
// has its own durable consumer and its own attempts in flight, so one slow
// or failing destination never holds up another's deliveries.
//
// A circuit guards the destination as a whole (see circuit): once it fails
// attempts in a row, the deliverer stops pulling its deliveries, so a
// backlog does not hammer a destination that is down, each event on its
// own retry schedule. The deliveries already handed over are held, still
// ours and unattempted; the rest wait in the stream. Neither is counted as
// an attempt, so no retry of max_attempts is spent on a destination known
// to be down. One delivery at a time probes it, ever more rarely; when a
// probe is taken, the held deliveries are attempted at once and pulling
// resumes at full concurrency: the backlog drains as fast as the
// destination takes it, not at the pace of each event's retry backoff.
type deliverer struct {
	f *Forwarder
	// dest is swapped when a destination's URL, key or policy changes; a
	// change of timeout or concurrency makes a new deliverer instead,
	// since the consumer's AckWait and MaxAckPending follow them.
	dest atomic.Pointer[destination]
	cons jetstream.Consumer
	// sem holds a slot per attempt in flight: max_concurrency is enforced
	// here. The consumer's MaxAckPending is far larger, because deliveries
	// waiting for their retry count against it; were it max_concurrency,
	// that many failing events would hold up every other delivery to the
	// destination until their backoff ended.
	sem chan struct{}
	// done is closed when the deliverer stops; cancel ends the pull under
	// way then, and pulled is closed once pull has returned.
	done   chan struct{}
	cancel context.CancelFunc
	pulled chan struct{}

	mu       sync.Mutex
	stopping bool
	// broken is set when pulling ended on its own (the consumer was
	// deleted, the connection closed): the deliverer is then replaced by
	// reconciliation.
	broken  bool
	circuit *circuit
	// held are the deliveries handed over while the circuit was open, at
	// most a pull batch: not attempted, their ack wait extended
	// (keepHeld), and attempted first when it closes.
	held []jetstream.Msg
	// probing is set while the half-open circuit's probe is in flight,
	// fetching while a delivery to probe with is being pulled.
	probing, fetching bool
	// changed is closed, and replaced, when the circuit changes, to wake
	// the receive waiting for the probe's outcome.
	changed  chan struct{}
	timer    *time.Timer
	inflight sync.WaitGroup
}

// startDeliverer creates or updates the destination's consumer and starts
// consuming it.
func (f *Forwarder) startDeliverer(ctx context.Context, d *destination) (*deliverer, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.PublishTimeout)
	defer cancel()
	cons, err := f.js.CreateOrUpdateConsumer(ctx, backbone.DeliveriesStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName(d.id),
		Description:   "Plugs deliveries to destination " + d.id,
		FilterSubject: backbone.DeliverySubject(d.id),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait(d),
		// Attempts are counted against the retry policy here; a server
		// limit would drop deliveries without a dead letter.
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending(d.maxConc),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: consumer %s: %w", ErrBackbone, ConsumerName(d.id), err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	dl := &deliverer{
		f: f, cons: cons, sem: make(chan struct{}, d.maxConc), done: make(chan struct{}), changed: make(chan struct{}),
		cancel: pcancel, pulled: make(chan struct{}),
		circuit: newCircuit(f.opts.CircuitThreshold, f.opts.ProbeBackoff, f.opts.MaxProbeBackoff),
	}
	dl.dest.Store(d)
	go dl.pull(pctx)
	go dl.keepHeld()
	dl.report(CircuitClosed)
	return dl, nil
}

// ackWait is the AckWait of a destination's consumer: a message may wait
// for a slot behind one attempt, then make its own.
func ackWait(d *destination) time.Duration { return 2*d.timeout + ackMargin }

// maxAckPending bounds the deliveries of one destination out with the data
// planes at once, in flight or waiting for a retry: enough that retries do
// not starve new deliveries, few enough that a destination that is down
// does not pull its whole backlog into waiting retries.
func maxAckPending(maxConc int) int {
	return min(max(100*maxConc, 1000), 10_000)
}

// pull hands the destination's deliveries to receive while the circuit is
// closed, one fetch of up to max_concurrency deliveries at a time, until
// the deliverer stops.
//
// Why fetches and not a continuous consume: the attempt number of a
// delivery is the server's count of its deliveries (md.NumDelivered), so a
// delivery the server sends that the deliverer never sees spends an
// attempt of max_attempts without a request. Stopping a consume part way
// leaves its pull request with the server, which keeps sending to it until
// it notices the subscriber is gone; what it sent meanwhile is lost, and
// comes back counted once more (at once, when the server sees the send
// fail: it then does not take back the count of a first delivery), though
// no request was made. The circuit stops pulling each time it opens, so a
// consume stopped there overcounted some of the backlog at each outage. A
// fetch is never given up while the circuit changes: every delivery it
// brings is received, attempted or held, and the next fetch is only made
// while the circuit is closed. Its end is the server's (its batch full, or
// its expiry answered), so nothing is sent to it after.
//
// Deliveries handed over while the deliverer stops are still counted once
// more each, as receive says; so are those of a fetch ended by a lost
// connection.
func (dl *deliverer) pull(ctx context.Context) {
	defer close(dl.pulled)
	for {
		dl.mu.Lock()
		for !dl.stopping && dl.circuit.state != CircuitClosed {
			changed := dl.changed
			dl.mu.Unlock()
			<-changed
			dl.mu.Lock()
		}
		stopping := dl.stopping
		dl.mu.Unlock()
		if stopping {
			return
		}
		err := dl.fetch(ctx)
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound),
			errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, jetstream.ErrNoHeartbeat):
			// The consumer is gone, or the connection: reconciliation
			// starts the deliverer again, creating the consumer anew.
			dl.f.log.Warn("deliveries no longer pulled", "destination", dl.dest.Load().id, "error", err)
			dl.mu.Lock()
			dl.broken = true
			dl.mu.Unlock()
			return
		}
		dl.f.log.Warn("deliveries not pulled; pulling again", "destination", dl.dest.Load().id, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pullRetry):
		}
	}
}

// fetch makes one pull and hands each delivery it brings to receive, until
// the server ends it. The pull expires before ctx's deadline (FetchContext
// gives the server 90% of the time left), so the deadline only ends it
// when the server's answer is lost.
func (dl *deliverer) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pullWait)
	defer cancel()
	batch, err := dl.cons.Fetch(dl.dest.Load().maxConc, jetstream.FetchContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: pull %s: %w", ErrBackbone, ConsumerName(dl.dest.Load().id), err)
	}
	for msg := range batch.Messages() {
		dl.receive(msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: pull %s: %w", ErrBackbone, ConsumerName(dl.dest.Load().id), err)
	}
	return nil
}

// receive takes each delivery pull brings: once a slot is free it hands
// the delivery to an attempt of its own and returns, or holds it while the
// circuit is open. While the half-open circuit's probe is in flight it
// waits for its outcome. Either wait holds up pull: nothing more is
// pulled meanwhile.
func (dl *deliverer) receive(msg jetstream.Msg) {
	dl.sem <- struct{}{}
	dl.mu.Lock()
	for {
		if dl.stopping {
			dl.mu.Unlock()
			<-dl.sem
			// Handed over while stopping: give it back now rather than
			// after AckWait, so another data plane (or the next start)
			// takes it at once. Its delivery count grows by one without
			// a request, which costs at most one attempt of max_attempts
			// per stop.
			_ = msg.Nak()
			return
		}
		probe := false
		switch dl.circuit.state {
		case CircuitOpen:
			dl.held = append(dl.held, msg)
			dl.mu.Unlock()
			<-dl.sem
			return
		case CircuitHalfOpen:
			if dl.probing {
				changed := dl.changed
				dl.mu.Unlock()
				<-dl.sem
				<-changed
				dl.sem <- struct{}{}
				dl.mu.Lock()
				continue
			}
			dl.probing, probe = true, true
		}
		dl.inflight.Add(1)
		dl.mu.Unlock()
		go dl.attempt(msg, probe)
		return
	}
}

// attempt delivers msg in a slot of sem it holds, and tells the circuit
// how it went.
func (dl *deliverer) attempt(msg jetstream.Msg, probe bool) {
	defer func() {
		<-dl.sem
		dl.inflight.Done()
	}()
	dl.settle(probe, dl.deliver(msg))
}

// attemptLater is attempt for a delivery taken while dl.mu is held: the
// slot is waited for on the attempt's own goroutine.
func (dl *deliverer) attemptLater(msg jetstream.Msg, probe bool) {
	dl.inflight.Add(1)
	go func() {
		dl.sem <- struct{}{}
		dl.attempt(msg, probe)
	}()
}

// settle moves the circuit on an attempt's outcome.
func (dl *deliverer) settle(probe bool, t tried) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if probe {
		dl.probing = false
	}
	if dl.stopping {
		return
	}
	switch {
	case !t.made:
		// Settled without a request (dead-lettered as expired, say):
		// another delivery probes.
		if probe {
			dl.probeLocked()
		}
	case t.answered:
		if dl.circuit.succeeded() {
			dl.closeLocked()
		}
	default:
		if opened, wait := dl.circuit.failed(probe, t.retryAfter, time.Now()); opened {
			dl.openLocked(wait, t.err)
		}
	}
}

// openLocked stops pulling until the next probe, in wait. The pull under
// way is not cut short (see pull): what it still brings is held, at most a
// pull batch, and no further pull is made until the circuit closes.
func (dl *deliverer) openLocked(wait time.Duration, cause error) {
	dl.timer = time.AfterFunc(wait, dl.probeDue)
	dl.signalLocked(CircuitOpen)
	log := dl.f.log.With("destination", dl.dest.Load().id, "circuit", CircuitOpen,
		"failing_for", time.Since(dl.circuit.openedAt).Round(time.Millisecond), "next_probe_in", wait.Round(time.Millisecond), "error", cause)
	if dl.circuit.probesFailed == 0 {
		log.Warn("destination failing: circuit open, deliveries held until a probe is taken", "failures", dl.circuit.failures)
	} else {
		log.Debug("probe failed: circuit open again", "probes_failed", dl.circuit.probesFailed)
	}
}

// probeDue half-opens the circuit when its wait is over.
func (dl *deliverer) probeDue() {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.stopping || !dl.circuit.probeDue() {
		return
	}
	dl.signalLocked(CircuitHalfOpen)
	dl.f.log.Debug("circuit half-open: probing the destination", "destination", dl.dest.Load().id, "circuit", CircuitHalfOpen)
	dl.probeLocked()
}

// reconfigured probes at once a destination whose circuit is open, when
// its configuration changed: a new URL or key may be what it needed.
func (dl *deliverer) reconfigured() {
	dl.mu.Lock()
	t := dl.timer
	open := dl.circuit.state == CircuitOpen
	dl.mu.Unlock()
	if open && t != nil && t.Stop() {
		go dl.probeDue()
	}
}

// probeLocked starts the half-open circuit's probe: a held delivery when
// there is one, else the next the stream has.
func (dl *deliverer) probeLocked() {
	if dl.circuit.state != CircuitHalfOpen || dl.probing {
		return
	}
	if len(dl.held) > 0 {
		msg := dl.held[0]
		dl.held = dl.held[1:]
		dl.probing = true
		dl.attemptLater(msg, true)
		return
	}
	// A receive waiting for a probe that was not made takes its place.
	dl.wakeLocked()
	if !dl.fetching {
		dl.fetching = true
		dl.inflight.Add(1)
		go dl.fetchProbe()
	}
}

// fetchProbe pulls one delivery to probe with. Like pull, it never gives
// up a fetch part way: the server counts a delivery it sends to a pull
// request whose subscriber is gone, which would spend an attempt of that
// event without a request.
func (dl *deliverer) fetchProbe() {
	defer dl.inflight.Done()
	for {
		batch, err := dl.cons.Fetch(1, jetstream.FetchMaxWait(probeFetchWait))
		var msg jetstream.Msg
		if err == nil {
			for m := range batch.Messages() {
				msg = m
			}
			err = batch.Error()
		}
		dl.mu.Lock()
		switch {
		case dl.stopping:
			dl.fetching = false
			dl.mu.Unlock()
			if msg != nil {
				_ = msg.Nak()
			}
			return
		case msg != nil && dl.circuit.state == CircuitHalfOpen && !dl.probing:
			dl.fetching = false
			dl.probing = true
			dl.attemptLater(msg, true)
			dl.mu.Unlock()
			return
		case msg != nil:
			// The circuit moved on meanwhile (closed by an attempt that
			// was in flight): the delivery is one like the others.
			dl.fetching = false
			if dl.circuit.state == CircuitClosed {
				dl.attemptLater(msg, false)
			} else {
				dl.held = append(dl.held, msg)
			}
			dl.mu.Unlock()
			return
		case dl.circuit.state != CircuitHalfOpen || dl.probing:
			dl.fetching = false
			dl.mu.Unlock()
			return
		}
		dl.mu.Unlock()
		if err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			dl.f.log.Debug("probe not fetched", "destination", dl.dest.Load().id, "error", err)
			select {
			case <-dl.done:
			case <-time.After(probeFetchWait):
			}
		}
	}
}

// closeLocked resumes deliveries at full concurrency: the held ones at
// once, then whatever the consumer has, retries due included.
func (dl *deliverer) closeLocked() {
	if dl.timer != nil {
		dl.timer.Stop()
	}
	held := dl.held
	dl.held = nil
	for _, msg := range held {
		dl.attemptLater(msg, false)
	}
	dl.signalLocked(CircuitClosed) // wakes pull
	dl.f.log.Info("destination answering again: circuit closed, deliveries resume",
		"destination", dl.dest.Load().id, "circuit", CircuitClosed, "failed_for", time.Since(dl.circuit.openedAt).Round(time.Millisecond),
		"probes_failed", dl.circuit.probesFailed, "held", len(held))
}

// signalLocked wakes the receive waiting on a probe, and pull waiting for
// the circuit to close, and reports the circuit's new state.
func (dl *deliverer) signalLocked(s CircuitState) {
	dl.wakeLocked()
	dl.report(s)
}

// wakeLocked wakes the receive waiting on a probe, and pull.
func (dl *deliverer) wakeLocked() {
	close(dl.changed)
	dl.changed = make(chan struct{})
}

func (dl *deliverer) report(s CircuitState) {
	if dl.f.opts.OnCircuit != nil {
		dl.f.opts.OnCircuit(dl.dest.Load().id, s)
	}
}

// keepHeld extends the ack wait of the held deliveries until the
// deliverer stops, so the server does not hand them to another data plane
// (counting one more delivery) while the circuit is open.
func (dl *deliverer) keepHeld() {
	t := time.NewTicker(ackWait(dl.dest.Load()) / 3)
	defer t.Stop()
	for {
		select {
		case <-dl.done:
			return
		case <-t.C:
		}
		dl.mu.Lock()
		held := slices.Clone(dl.held)
		dl.mu.Unlock()
		for _, msg := range held {
			_ = msg.InProgress()
		}
	}
}

// stop stops consuming and waits for the attempts in flight to finish and
// settle. The consumer stays: a paused destination keeps its deliveries.
func (dl *deliverer) stop() {
	dl.mu.Lock()
	dl.stopping = true
	held := dl.held
	dl.held = nil
	if dl.timer != nil {
		dl.timer.Stop()
	}
	dl.wakeLocked() // a receive waiting on a probe gives its delivery back
	dl.mu.Unlock()
	close(dl.done)
	// The pull under way is given up rather than waited for: what it
	// already brought is given back by receive; what the server was still
	// sending comes back counted once more, as receive says.
	dl.cancel()
	for _, msg := range held {
		_ = msg.Nak()
	}
	<-dl.pulled
	dl.inflight.Wait()
	dl.mu.Lock()
	dl.report(CircuitStopped)
	dl.mu.Unlock()
}

// closed reports whether pulling ended on its own (the consumer was
// deleted, the connection closed), so reconciliation starts it again. A
// circuit that stopped pulling is not that.
func (dl *deliverer) closed() bool {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.broken
}

// tried is what an attempt told about the destination.
type tried struct {
	// made is set when a request was sent.
	made bool
	// answered is set when the destination answered with a status that
	// is not retried: it is up, whatever it thought of the delivery.
	answered   bool
	retryAfter time.Duration
	err        error
}

// deliver makes one attempt and settles the delivery: acknowledged,
// scheduled again, or dead-lettered. It returns what the attempt told of
// the destination, for the circuit.
func (dl *deliverer) deliver(msg jetstream.Msg) (t tried) {
	d := dl.dest.Load()
	log := dl.f.log.With("destination", d.id)
	md, err := msg.Metadata()
	if err != nil {
		log.Error("delivery without metadata", "error", err)
		_ = msg.Nak()
		return t
	}
	attempt := int(md.NumDelivered)
	h := msg.Headers()
	eventID := h.Get(HeaderEventID)
	ev := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		dl.kill(msg, md, d, eventID, ReasonMalformed, attempt-1, 0, fmt.Errorf("%w: %w", ErrMalformedDelivery, err))
		return t
	}
	if eventID == "" {
		eventID = ev.GetId()
	}
	since := clockStart(h, ev, md.Timestamp)
	switch {
	case attempt > d.policy.maxAttempts:
		// The last attempt was made by a data plane that stopped before
		// settling it (or max_attempts was lowered since).
		dl.kill(msg, md, d, eventID, ReasonAttemptsExhausted, attempt-1, 0, nil)
		return t
	case time.Since(since) > d.policy.maxAge:
		dl.kill(msg, md, d, eventID, ReasonExpired, attempt-1, 0, nil)
		return t
	}
	body, err := encodeCloudEvent(ev, eventID)
	if err != nil {
		dl.kill(msg, md, d, eventID, ReasonMalformed, attempt-1, 0, err)
		return t
	}

	ctx, span := dl.f.startAttempt(h, d.id, eventID, attempt)
	res := dl.post(ctx, d, eventID, body)
	t.made, t.err = !res.refused, res.err
	a := Attempt{
		ID:              uuid.Must(uuid.NewV7()).String(),
		DestinationID:   d.id,
		TenantID:        ev.GetTenantId(),
		SourceID:        ev.GetSourceId(),
		ProviderEventID: ev.GetEventId(),
		EventType:       ev.GetEventType(),
		EventID:         eventID,
		Number:          attempt,
		DeliverySeq:     md.Sequence.Stream,
		Time:            res.start,
		StatusCode:      res.status,
		Latency:         res.latency,
		Err:             res.err,
	}
	switch d.policy.judge(res.status, res.err, res.refused) {
	case delivered:
		t.answered = true
		a.Outcome = Delivered
		// A confirmed ack, retried while the server may still take it (it
		// waits AckWait, the timeout and 30 s, before redelivering): a NATS
		// restart during an attempt then costs no second delivery.
		if err := dl.ack(msg, res.start.Add(d.timeout+25*time.Second)); err != nil {
			log.Warn("delivered, but the ack was not confirmed; the event may be delivered again", "event", eventID, "error", err)
		}
	case retry:
		now := time.Now()
		delay, ok := d.policy.retryAfter(res.status, res.header, now)
		if ok {
			t.retryAfter = delay
		} else {
			delay = d.policy.backoff(attempt)
		}
		next := now.Add(delay)
		switch {
		case attempt >= d.policy.maxAttempts:
			a.Outcome, a.NextRetry = dl.kill(msg, md, d, eventID, ReasonAttemptsExhausted, attempt, res.status, res.err)
		case next.Sub(since) > d.policy.maxAge:
			a.Outcome, a.NextRetry = dl.kill(msg, md, d, eventID, ReasonExpired, attempt, res.status, res.err)
		default:
			a.Outcome, a.NextRetry = Retrying, next
			if err := msg.NakWithDelay(delay); err != nil {
				log.Warn("retry not scheduled; the delivery comes back after its ack wait", "event", eventID, "error", err)
			}
		}
	case permanent:
		// An answer, even a refusal, shows the destination is up.
		t.answered = t.made
		a.Outcome, a.NextRetry = dl.kill(msg, md, d, eventID, ReasonRejected, attempt, res.status, res.err)
	}
	endAttempt(span, res, a.Outcome)
	log.Debug("delivery attempt", "event", eventID, "attempt", attempt, "status", res.status, "outcome", a.Outcome, "latency", res.latency, "error", res.err)
	if dl.f.opts.OnAttempt != nil {
		dl.f.opts.OnAttempt(a)
	}
	return t
}

// clockStart is when the retry policy's max_age starts: when the webhook
// was accepted, or when the delivery was re-driven, whichever is later.
func clockStart(h nats.Header, ev *plugsv1.UsageEvent, stored time.Time) time.Time {
	t := stored
	if v, err := time.Parse(time.RFC3339Nano, h.Get(HeaderAccepted)); err == nil {
		t = v
	} else if rt := ev.GetReceiveTime(); rt != nil && rt.IsValid() {
		t = rt.AsTime()
	}
	if v, err := time.Parse(time.RFC3339Nano, h.Get(HeaderRedriven)); err == nil && v.After(t) {
		t = v
	}
	return t
}

// result is what one request got.
type result struct {
	start   time.Time
	latency time.Duration
	status  int
	header  http.Header
	err     error
	// refused means the egress guard refused the address.
	refused bool
}

// post sends one signed attempt. Its context is not the forwarder's but
// one that carries only the attempt's span: an attempt under way when the
// forwarder stops is finished, within the destination's timeout, rather
// than cut off and made again.
func (dl *deliverer) post(ctx context.Context, d *destination, eventID string, body []byte) (res result) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	res.start = time.Now()
	defer func() { res.latency = time.Since(res.start) }()
	req, err := NewRequest(ctx, d.url, d.signer, eventID, body, res.start)
	if err != nil {
		res.err, res.refused = err, true
		return res
	}
	tracing.Inject(ctx, req.Header)
	resp, err := dl.f.client.Do(req)
	if err != nil {
		res.refused = errors.Is(err, egress.ErrForbiddenAddress)
		switch {
		case res.refused:
			// The tenant reads this error in the delivery log and the dead
			// letter: it must not say what the host name resolved to, or
			// a destination becomes a probe of the operator's network. The
			// operator's log has the address.
			dl.f.log.Warn("delivery refused by the egress guard", "destination", d.id, "event", eventID, "error", err)
			res.err = fmt.Errorf("%w: %w", ErrRequest, egress.ErrForbiddenAddress)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			res.err = fmt.Errorf("%w: no answer within %s", ErrRequest, d.timeout)
		default:
			res.err = fmt.Errorf("%w: %w", ErrRequest, err)
		}
		return res
	}
	defer resp.Body.Close()
	res.status, res.header = resp.StatusCode, resp.Header
	// The start of a refusal's body goes into the error: it is usually
	// the destination saying why. The rest is read, within a bound, so the
	// connection can be reused.
	head := make([]byte, 256)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.err = fmt.Errorf("%w: %s", ErrStatus, resp.Status)
		if s := strings.TrimSpace(strings.ToValidUTF8(string(head[:n]), "")); s != "" {
			res.err = fmt.Errorf("%w: %s: %s", ErrStatus, resp.Status, s)
		}
	}
	return res
}

// kill writes the delivery to the dead letters and terminates it. When the
// dead letter cannot be written the delivery is kept and tried again
// later; the outcome says which happened.
func (dl *deliverer) kill(msg jetstream.Msg, md *jetstream.MsgMetadata, d *destination, eventID string, why Reason, attempts, status int, cause error) (Outcome, time.Time) {
	m := nats.NewMsg(backbone.DeadSubject(d.id))
	m.Data = msg.Data()
	for _, k := range []string{HeaderAccepted, HeaderRedriven} {
		if v := msg.Headers().Get(k); v != "" {
			m.Header.Set(k, v)
		}
	}
	if eventID != "" {
		m.Header.Set(HeaderEventID, eventID)
	}
	m.Header.Set(HeaderDestinationID, d.id)
	m.Header.Set(HeaderReason, string(why))
	tracing.Copy(m.Header, msg.Headers()) // re-driven, it stays in its webhook's trace
	m.Header.Set(HeaderAttempts, strconv.Itoa(attempts))
	m.Header.Set(HeaderLastStatus, strconv.Itoa(status))
	if cause != nil {
		m.Header.Set(HeaderLastError, headerValue(cause.Error()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), dl.f.opts.PublishTimeout)
	defer cancel()
	// The id is the delivery's place in its stream: a dead letter written
	// again after a lost ack, by this data plane or another, is stored once.
	_, err := dl.f.js.PublishMsg(ctx, m,
		jetstream.WithMsgID("dead:"+strconv.FormatUint(md.Sequence.Stream, 10)),
		jetstream.WithExpectStream(backbone.DeadStream))
	log := dl.f.log.With("destination", d.id, "event", eventID, "reason", why, "attempts", attempts, "status", status)
	if err != nil {
		log.Error("dead letter not stored; the delivery is kept and handled again", "error", err)
		_ = msg.NakWithDelay(deadLetterRetry)
		return Retrying, time.Now().Add(deadLetterRetry)
	}
	if err := msg.TermWithReason(string(why)); err != nil {
		log.Warn("dead-lettered, but the delivery was not terminated; it will be dead-lettered again", "error", err)
	}
	log.Warn("delivery dead-lettered", "error", cause)
	return DeadLettered, time.Time{}
}

// headerValue makes s fit a header value: one line, at most 512 bytes,
// valid UTF-8.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) > 512 {
		s = s[:512]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// ack acknowledges msg, retrying until the server confirms or deadline
// passes. Acknowledging twice is harmless, so a retry after an ack whose
// confirmation was lost is safe.
func (dl *deliverer) ack(msg jetstream.Msg, deadline time.Time) error {
	wait := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), dl.f.opts.PublishTimeout)
		err := msg.DoubleAck(ctx)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			return nil
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}
