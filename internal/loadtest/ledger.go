package loadtest

import (
	"context"
	"sync"
	"time"
)

// Ledger checks exactly-once delivery by provider event id: the sender
// notes each event it sends and what the ingest endpoint answered, the
// destination notes each delivery, and a Tally compares the two. The two
// sides race (a delivery can arrive before the sender has read the 200 that
// accepted it), so nothing is judged until Tally is asked.
type Ledger struct {
	mu     sync.Mutex
	events map[string]*entry
	// unknown counts deliveries of ids never sent, by id.
	unknown map[string]int
}

type entry struct {
	phase string
	// status is the ingest answer; 0 while unanswered or when the
	// request failed without one (the event may or may not be stored).
	status     int
	answered   bool
	deliveries int
	// answeredAt is when the sender read the answer; deliveredAt when the
	// first delivery arrived. Their difference is the delivery lag.
	answeredAt, deliveredAt time.Time
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{events: map[string]*entry{}, unknown: map[string]int{}}
}

// Sent notes that the event id is about to be sent in phase.
func (l *Ledger) Sent(phase, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.unknown[id]; ok {
		// Delivered before Sent was noted: impossible for a real send,
		// but keep the count rather than lose it.
		delete(l.unknown, id)
		l.events[id] = &entry{phase: phase, deliveries: n}
		return
	}
	l.events[id] = &entry{phase: phase}
}

// Answered notes the ingest endpoint's status for id; 0 means the request
// failed without an answer.
func (l *Ledger) Answered(id string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.events[id]; e != nil {
		e.status, e.answered, e.answeredAt = status, true, time.Now()
	}
}

// Delivered notes one delivery of id at the destination.
func (l *Ledger) Delivered(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.events[id]; e != nil {
		if e.deliveries == 0 {
			e.deliveredAt = time.Now()
		}
		e.deliveries++
		return
	}
	l.unknown[id]++
}

// Tally is the exactly-once verdict for one phase.
type Tally struct {
	// Accepted events were answered 200: each must be delivered once.
	Accepted int
	// Delivered is how many accepted events arrived at least once.
	Delivered int
	// Lost accepted events never arrived.
	Lost int
	// Duplicated events arrived more than once; ExtraDeliveries counts
	// the deliveries beyond the first.
	Duplicated, ExtraDeliveries int
	// Uncertain events got no answer (a transport error or timeout): they
	// may be stored or not, so either outcome is allowed, but they must not
	// arrive twice. UncertainDelivered counts those that arrived.
	Uncertain, UncertainDelivered int
	// Unexpected counts deliveries of events refused by the endpoint or
	// never sent (across all phases).
	Unexpected int
}

// OK reports whether every accepted event arrived exactly once.
func (t Tally) OK() bool {
	return t.Lost == 0 && t.Duplicated == 0 && t.Unexpected == 0
}

// Tally judges the events sent in phase.
func (l *Ledger) Tally(phase string) Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t Tally
	for _, e := range l.events {
		if e.phase != phase {
			continue
		}
		if e.deliveries > 1 {
			t.Duplicated++
			t.ExtraDeliveries += e.deliveries - 1
		}
		switch {
		case e.answered && e.status == 200:
			t.Accepted++
			if e.deliveries > 0 {
				t.Delivered++
			} else {
				t.Lost++
			}
		case !e.answered || e.status == 0:
			t.Uncertain++
			if e.deliveries > 0 {
				t.UncertainDelivered++
			}
		case e.deliveries > 0:
			// Refused (4xx/5xx) yet delivered: the answer lied.
			t.Unexpected += e.deliveries
		}
	}
	for _, n := range l.unknown {
		t.Unexpected += n
	}
	return t
}

// Wait polls the phase's tally until no accepted event is missing, or
// until nothing new has arrived for quiet, or ctx ends, and returns the
// last tally with how long it waited.
func (l *Ledger) Wait(ctx context.Context, phase string, quiet time.Duration) (Tally, time.Duration) {
	start := time.Now()
	t := l.Tally(phase)
	last, progress := t.Delivered, time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for t.Lost > 0 {
		select {
		case <-ctx.Done():
			return t, time.Since(start)
		case <-tick.C:
		}
		t = l.Tally(phase)
		if t.Delivered != last {
			last, progress = t.Delivered, time.Now()
		} else if time.Since(progress) > quiet {
			break
		}
	}
	return t, time.Since(start)
}

// Lag is the delivery lag of the phase's accepted, delivered events: from
// the moment the sender read the 200 to the first delivery's arrival at
// the destination, both on this process's clock. A delivery can overtake
// the 200 it follows (the forwarder may be quicker than the answer's way
// back); such lags count as zero.
func (l *Ledger) Lag(phase string) *Histogram {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := &Histogram{}
	for _, e := range l.events {
		if e.phase == phase && e.answered && e.status == 200 && e.deliveries > 0 {
			h.Record(e.deliveredAt.Sub(e.answeredAt))
		}
	}
	return h
}
