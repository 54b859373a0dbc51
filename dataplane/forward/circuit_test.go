package forward_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A destination down for a while, with a backlog: after a few failures its
// circuit opens, and from then on it is probed one request at a time,
// spaced, instead of every event being retried on its own schedule; no
// event spends an attempt the circuit prevented, so none is dead-lettered;
// and once a probe is taken the backlog is delivered at full concurrency,
// without waiting for each event's retry.
func TestCircuitHoldsTheBacklogOfADestinationThatIsDown(t *testing.T) {
	const events, probeBackoff = 300, 50 * time.Millisecond
	e := newEnv(t)
	r, down := newDownReceiver(t, []byte("k"))
	d := destination("d1", "t1", r, "k")
	d.MaxConcurrency = 10
	// Without the circuit, 10 attempts 10 to 50 ms apart would be spent
	// within a second of the outage.
	d.RetryPolicy.MaxAttempts = 10
	e.dests.add(d)

	var mu sync.Mutex
	var states []forward.CircuitState
	var openedAt time.Time // when the circuit first opened
	f := e.start(forward.Options{
		CircuitThreshold: 5, ProbeBackoff: probeBackoff, MaxProbeBackoff: 4 * probeBackoff,
		OnCircuit: func(id string, s forward.CircuitState) {
			mu.Lock()
			defer mu.Unlock()
			if id != "d1" {
				t.Errorf("circuit of %s", id)
			}
			if s == forward.CircuitOpen && openedAt.IsZero() {
				openedAt = time.Now()
			}
			states = append(states, s)
		},
	})
	e.put("t1", "src", "out", events)
	count := func(want forward.CircuitState) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range states {
			if s == want {
				n++
			}
		}
		return n
	}

	// Down until the destination was probed six times.
	const probes = 6
	eventually(t, 20*time.Second, func() bool { return count(forward.CircuitHalfOpen) >= probes }, "the destination was not probed")
	down.Store(false)
	recovered := time.Now()
	mu.Lock()
	outage := recovered.Sub(openedAt)
	mu.Unlock()
	requestsDown := int(r.requests.Load())
	// At most the attempts that opened the circuit, those in flight then,
	// and a probe each time it half-opened, made one at a time (the
	// probe in flight when the destination recovers may take it).
	if limit := 5 + 10 + count(forward.CircuitHalfOpen); requestsDown > limit {
		t.Fatalf("%d requests while down, more than %d", requestsDown, limit)
	}
	// The probes were spaced, twice as far each time up to the maximum,
	// less the jitter: 25, 50, then 100 ms.
	if least := (probeBackoff + 2*probeBackoff + (probes-3)*4*probeBackoff) / 2; outage < least {
		t.Fatalf("%d probes within %v", probes, outage)
	}

	// The backlog drains once a probe is taken.
	eventually(t, 30*time.Second, func() bool { return r.count() == events }, "the backlog did not drain after recovery")
	t.Logf("%d requests while down for %v; drained %v after recovery", requestsDown, outage.Round(time.Millisecond), time.Since(recovered).Round(time.Millisecond))
	e.settled("d1")
	r.check()
	for id, n := range r.got() {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
	dead, err := f.ListDead(context.Background(), "d1", 0)
	if err != nil || len(dead) != 0 {
		t.Fatalf("%d dead letters (%v): attempts were spent while the circuit was open", len(dead), err)
	}
	// Each delivered attempt's number counts the requests made for its
	// event, and nothing else.
	failed := map[string]int{}
	for _, a := range e.attemptsFor("d1") {
		switch a.Outcome {
		case forward.Retrying:
			failed[a.EventID]++
		case forward.Delivered:
			if a.Number != failed[a.EventID]+1 {
				t.Fatalf("event %s delivered at attempt %d after %d failed requests", a.EventID, a.Number, failed[a.EventID])
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []forward.CircuitState{forward.CircuitClosed, forward.CircuitOpen, forward.CircuitHalfOpen}
	if len(states) < 4 || !slices.Equal(states[:3], want) || states[len(states)-1] != forward.CircuitClosed {
		t.Fatalf("circuit went %v", states)
	}
}

// A destination whose circuit is open is probed as soon as its
// configuration changes, not at the next probe: the change may be the fix.
func TestCircuitProbesAtOnceAfterAChange(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(dead.Close)
	d := destination("d1", "t1", r, "k")
	d.Url = dead.URL + "/old"
	e.dests.add(d)
	var opened atomic.Bool
	e.start(forward.Options{
		CircuitThreshold: 2, ProbeBackoff: time.Hour, MaxProbeBackoff: time.Hour,
		OnCircuit: func(_ string, s forward.CircuitState) {
			if s == forward.CircuitOpen {
				opened.Store(true)
			}
		},
	})
	ids := e.put("t1", "src", "fix", 20)
	eventually(t, 10*time.Second, opened.Load, "the circuit did not open")
	e.dests.update("d1", func(c *plugsv1.DestinationConfig) { c.Url = r.srv.URL + "/hook" })
	eventually(t, 10*time.Second, func() bool { return r.count() == len(ids) }, "not delivered after the URL was fixed")
	e.settled("d1")
	r.exactlyOnce(ids)
}

// The pull under way when a destination's circuit opens is read to its
// end, not given up: a delivery the server sends to it after the circuit
// opened reaches the deliverer and is held. Given up, the server would
// keep sending to it until it noticed the subscriber gone, and a delivery
// sent meanwhile would come back counted once more without a request:
// the attempt numbers of the backlog would overcount, and max_attempts be
// spent on a destination never asked. Here every delivery is out with the
// deliverer, none lost, and each is delivered at attempt 1 once the
// destination answers.
func TestCircuitOpeningLosesNoDelivery(t *testing.T) {
	e := newEnv(t)
	r, down := newDownReceiver(t, []byte("k"))
	d := destination("d1", "t1", r, "k")
	d.MaxConcurrency = 10
	d.RetryPolicy.MaxAttempts = 2
	e.dests.add(d)
	var opened atomic.Bool
	e.start(forward.Options{
		// No probe until the configuration changes.
		CircuitThreshold: 1, ProbeBackoff: time.Hour, MaxProbeBackoff: time.Hour,
		OnCircuit: func(_ string, s forward.CircuitState) {
			if s == forward.CircuitOpen {
				opened.Store(true)
			}
		},
	})
	first := e.put("t1", "src", "first", 1)
	eventually(t, 10*time.Second, opened.Load, "the circuit did not open")
	// Queued after the circuit opened, while the pull that brought the
	// first still waits for more.
	later := e.put("t1", "src", "later", 5)
	ctx := context.Background()
	eventually(t, 10*time.Second, func() bool {
		c, err := e.conn.JS.Consumer(ctx, backbone.DeliveriesStream, forward.ConsumerName("d1"))
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false
		}
		// The first is held after its retry came back, or waits for it;
		// the later ones are held.
		return info.NumPending == 0 && info.NumAckPending == 6
	}, "the deliveries sent after the circuit opened are not with the deliverer")
	if n := r.requests.Load(); n != 1 {
		t.Fatalf("%d requests while the circuit is open, want the one that opened it", n)
	}

	down.Store(false)
	// A change of configuration probes at once.
	e.dests.update("d1", func(c *plugsv1.DestinationConfig) { c.Url = r.srv.URL + "/hook?v=2" })
	e.settled("d1")
	r.exactlyOnce(append(first, later...))
	for _, a := range e.attemptsFor("d1") {
		want := 1
		if a.EventID == first[0] && a.Outcome == forward.Delivered {
			want = 2
		}
		if a.Number != want {
			t.Fatalf("event %s: attempt %d (%v), want %d", a.EventID, a.Number, a.Outcome, want)
		}
	}
}
