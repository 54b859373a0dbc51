package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// userAgent identifies deliveries in the destination's logs.
const userAgent = "Plugs-Forwarder/1"

// deliverer consumes the deliveries of one destination. Each destination
// has its own durable consumer and its own attempts in flight, so one slow
// or failing destination never holds up another's deliveries.
type deliverer struct {
	f *Forwarder
	// dest is swapped when a destination's URL, key or policy changes; a
	// change of timeout or concurrency makes a new deliverer instead,
	// since the consumer's AckWait and MaxAckPending follow them.
	dest atomic.Pointer[destination]
	cc   jetstream.ConsumeContext
	// sem holds a slot per attempt in flight: max_concurrency is enforced
	// here. The consumer's MaxAckPending is far larger, because deliveries
	// waiting for their retry count against it; were it max_concurrency,
	// that many failing events would hold up every other delivery to the
	// destination until their backoff ended.
	sem chan struct{}

	mu       sync.Mutex
	stopping bool
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
		// A message may wait for a slot behind one attempt, then make its
		// own.
		AckWait: 2*d.timeout + ackMargin,
		// Attempts are counted against the retry policy here; a server
		// limit would drop deliveries without a dead letter.
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending(d.maxConc),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: consumer %s: %w", ErrBackbone, ConsumerName(d.id), err)
	}
	dl := &deliverer{f: f, sem: make(chan struct{}, d.maxConc)}
	dl.dest.Store(d)
	dl.cc, err = cons.Consume(dl.receive,
		jetstream.PullMaxMessages(d.maxConc),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			f.log.Warn("deliveries consumer", "destination", d.id, "error", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("%w: consume %s: %w", ErrBackbone, ConsumerName(d.id), err)
	}
	return dl, nil
}

// maxAckPending bounds the deliveries of one destination out with the data
// planes at once, in flight or waiting for a retry: enough that retries do
// not starve new deliveries, few enough that a destination that is down
// does not pull its whole backlog into waiting retries.
func maxAckPending(maxConc int) int {
	return min(max(100*maxConc, 1000), 10_000)
}

// receive is the consumer's callback: it hands the delivery to an attempt
// of its own and returns.
func (dl *deliverer) receive(msg jetstream.Msg) {
	dl.mu.Lock()
	if dl.stopping {
		dl.mu.Unlock()
		// Handed over while stopping: give it back now rather than after
		// AckWait, so another data plane (or the next start) takes it at
		// once. Its delivery count grows by one without a request, which
		// costs at most one attempt of max_attempts per stop.
		_ = msg.Nak()
		return
	}
	dl.inflight.Add(1)
	dl.mu.Unlock()
	dl.sem <- struct{}{}
	go func() {
		defer func() {
			<-dl.sem
			dl.inflight.Done()
		}()
		dl.deliver(msg)
	}()
}

// stop stops consuming and waits for the attempts in flight to finish and
// settle. The consumer stays: a paused destination keeps its deliveries.
func (dl *deliverer) stop() {
	dl.mu.Lock()
	dl.stopping = true
	dl.mu.Unlock()
	dl.cc.Drain()
	select {
	case <-dl.cc.Closed():
	case <-time.After(dl.dest.Load().timeout + ackMargin):
		// The connection is down and the drain cannot complete; what
		// is still buffered is redelivered after AckWait.
	}
	dl.inflight.Wait()
}

// closed reports whether consuming ended on its own (the consumer was
// deleted, the connection closed), so reconciliation starts it again.
func (dl *deliverer) closed() bool {
	select {
	case <-dl.cc.Closed():
		return true
	default:
		return false
	}
}

// deliver makes one attempt and settles the delivery: acknowledged,
// scheduled again, or dead-lettered.
func (dl *deliverer) deliver(msg jetstream.Msg) {
	d := dl.dest.Load()
	log := dl.f.log.With("destination", d.id)
	md, err := msg.Metadata()
	if err != nil {
		log.Error("delivery without metadata", "error", err)
		_ = msg.Nak()
		return
	}
	attempt := int(md.NumDelivered)
	h := msg.Headers()
	eventID := h.Get(HeaderEventID)
	ev := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		dl.kill(msg, md, d, eventID, ReasonMalformed, attempt-1, 0, fmt.Errorf("%w: %w", ErrMalformedDelivery, err))
		return
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
		return
	case time.Since(since) > d.policy.maxAge:
		dl.kill(msg, md, d, eventID, ReasonExpired, attempt-1, 0, nil)
		return
	}
	body, err := encodeCloudEvent(ev, eventID)
	if err != nil {
		dl.kill(msg, md, d, eventID, ReasonMalformed, attempt-1, 0, err)
		return
	}

	ctx, span := dl.f.startAttempt(h, d.id, eventID, attempt)
	res := dl.post(ctx, d, eventID, body)
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
		if !ok {
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
		a.Outcome, a.NextRetry = dl.kill(msg, md, d, eventID, ReasonRejected, attempt, res.status, res.err)
	}
	endAttempt(span, res, a.Outcome)
	log.Debug("delivery attempt", "event", eventID, "attempt", attempt, "status", res.status, "outcome", a.Outcome, "latency", res.latency, "error", res.err)
	if dl.f.opts.OnAttempt != nil {
		dl.f.opts.OnAttempt(a)
	}
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
