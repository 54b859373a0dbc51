package forward_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Every stored event reaches every destination of its tenant once, as a
// CloudEvent signed in the destination's style.
func TestDeliversEveryEventOnceSigned(t *testing.T) {
	e := newEnv(t)
	key, raw := whsec("standard")
	std := newReceiver(t, raw, "")
	hub := newReceiver(t, []byte("hub-key"), "X-Signature")
	e.dests.add(destination("d-std", "t1", std, key))
	hubDest := destination("d-hub", "t1", hub, "hub-key")
	hubDest.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
	hubDest.SignatureHeader = "X-Signature"
	e.dests.add(hubDest)
	e.start(forward.Options{})

	ids := e.put("t1", "src-1", "a", 40)
	e.settled("d-std", "d-hub")
	std.exactlyOnce(ids)
	hub.exactlyOnce(ids)
	for _, a := range e.attemptsFor("d-std") {
		if a.Outcome != forward.Delivered || a.Number != 1 || a.StatusCode != 200 || a.Err != nil {
			t.Fatalf("attempt %+v", a)
		}
	}
	if n := len(e.attemptsFor("d-std")); n != 40 {
		t.Fatalf("%d attempts recorded", n)
	}
	ev := std.lastEvents["u-a-7"]
	if ev.GetCustomerId() != "cus_a-7" || ev.GetQuantity() != "1" || ev.GetEventId() != "a-7" {
		t.Fatalf("delivered %v", ev)
	}
}

// An event goes to its tenant's destinations that take every source or
// list its source, and nowhere else.
func TestRoutingByTenantAndSource(t *testing.T) {
	e := newEnv(t)
	all := newReceiver(t, []byte("k"), "")
	only2 := newReceiver(t, []byte("k"), "")
	other := newReceiver(t, []byte("k"), "")
	paused := newReceiver(t, []byte("k"), "")
	e.dests.add(destination("d-all", "t1", all, "k"))
	d2 := destination("d-src2", "t1", only2, "k")
	d2.SourceIds = []string{"src-2", "src-3"}
	e.dests.add(d2)
	e.dests.add(destination("d-other", "t2", other, "k"))
	dp := destination("d-paused", "t1", paused, "k")
	dp.Status = plugsv1.Destination_STATUS_PAUSED
	e.dests.add(dp)
	e.start(forward.Options{})

	s1 := e.put("t1", "src-1", "s1", 3)
	s2 := e.put("t1", "src-2", "s2", 3)
	t2 := e.put("t2", "src-1", "t2", 3)
	e.settled("d-all", "d-src2", "d-other")
	all.exactlyOnce(append(append([]string{}, s1...), s2...))
	only2.exactlyOnce(s2)
	other.exactlyOnce(t2)
	if n := paused.requests.Load(); n != 0 {
		t.Fatalf("paused destination got %d requests", n)
	}
}

// A destination failing its first requests gets every event once it
// recovers.
func TestRetriesUntilRecovered(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n <= 6 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	e.dests.add(destination("d1", "t1", r, "k"))
	e.start(forward.Options{})

	ids := e.put("t1", "src", "r", 10)
	e.settled("d1")
	r.exactlyOnce(ids)
	if n := r.requests.Load(); n != 16 {
		t.Fatalf("%d requests, want 16", n)
	}
	retries := 0
	for _, a := range e.attemptsFor("d1") {
		if a.Outcome == forward.Retrying {
			retries++
			if a.StatusCode != 500 || a.NextRetry.IsZero() || a.Err == nil {
				t.Fatalf("attempt %+v", a)
			}
		}
	}
	if retries != 6 {
		t.Fatalf("%d retries recorded", retries)
	}
}

// A 429 with Retry-After: 1 is not retried before a second has passed,
// though the policy's backoff is 10 ms.
func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(n int, w http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	}
	d := destination("d1", "t1", r, "k")
	d.RetryPolicy.MaxBackoff = durationpb.New(10 * time.Second)
	e.dests.add(d)
	e.start(forward.Options{})

	ids := e.put("t1", "src", "ra", 1)
	e.settled("d1")
	r.exactlyOnce(ids)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.times) != 2 {
		t.Fatalf("%d requests", len(r.times))
	}
	if gap := r.times[1].Sub(r.times[0]); gap < 900*time.Millisecond || gap > 5*time.Second {
		t.Fatalf("second attempt %v after the first", gap)
	}
}

// A 400 is not retried: the delivery goes to the dead letters at once.
// A 4xx the policy lists is retried.
func TestRejectedGoesToDeadLetters(t *testing.T) {
	e := newEnv(t)
	bad := newReceiver(t, []byte("k"), "")
	bad.answer = func(int, http.ResponseWriter, *http.Request) int { return http.StatusBadRequest }
	listed := newReceiver(t, []byte("k"), "")
	listed.answer = func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			return http.StatusConflict
		}
		return http.StatusOK
	}
	e.dests.add(destination("d-bad", "t1", bad, "k"))
	dl := destination("d-listed", "t1", listed, "k")
	dl.RetryPolicy.RetryStatusCodes = []int32{409}
	e.dests.add(dl)
	f := e.start(forward.Options{})

	ids := e.put("t1", "src", "x", 1)
	e.settled("d-bad", "d-listed")
	if n := bad.requests.Load(); n != 1 {
		t.Fatalf("%d requests to the rejecting destination", n)
	}
	listed.exactlyOnce(ids)
	dead, err := f.ListDead(context.Background(), "d-bad", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("%d dead letters", len(dead))
	}
	d := dead[0]
	if d.EventID != ids[0] || d.Reason != forward.ReasonRejected || d.Attempts != 1 || d.LastStatus != 400 ||
		!strings.Contains(d.LastError, "Bad Request") || d.Event.GetEventId() != "x-0" || d.DestinationID != "d-bad" || d.Accepted.IsZero() {
		t.Fatalf("dead letter %+v", d)
	}
	if a := e.attemptsFor("d-bad"); len(a) != 1 || a[0].Outcome != forward.DeadLettered {
		t.Fatalf("attempts %+v", a)
	}
	if other, _ := f.ListDead(context.Background(), "d-listed", 0); len(other) != 0 {
		t.Fatalf("dead letters of another destination listed: %+v", other)
	}
}

// A destination down past max_attempts gets the event in its dead letters;
// re-driven once it is up, the event is delivered, once.
func TestExhaustedThenRedriven(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	var mu sync.Mutex
	down := true
	r.answer = func(int, http.ResponseWriter, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	d := destination("d1", "t1", r, "k")
	d.RetryPolicy.MaxAttempts = 3
	e.dests.add(d)
	f := e.start(forward.Options{})

	ids := e.put("t1", "src", "down", 2)
	e.settled("d1")
	if n := r.requests.Load(); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}
	dead, err := f.ListDead(context.Background(), "d1", 10)
	if err != nil || len(dead) != 2 {
		t.Fatalf("%d dead letters, %v", len(dead), err)
	}
	for _, dl := range dead {
		if dl.Reason != forward.ReasonAttemptsExhausted || dl.Attempts != 3 || dl.LastStatus != 503 {
			t.Fatalf("dead letter %+v", dl)
		}
	}
	if one, _ := f.ListDead(context.Background(), "d1", 1); len(one) != 1 || one[0].EventID != dead[0].EventID {
		t.Fatalf("limit 1: %+v", one)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	n, err := f.Redrive(context.Background(), "d1", func(dl forward.DeadLetter) bool { return dl.EventID == ids[1] })
	if err != nil || n != 1 {
		t.Fatalf("re-drove %d: %v", n, err)
	}
	e.settled("d1")
	r.exactlyOnce(ids[1:])
	if rest, _ := f.ListDead(context.Background(), "d1", 0); len(rest) != 1 || rest[0].EventID != ids[0] {
		t.Fatalf("left %+v", rest)
	}
	// The re-driven delivery counted its attempts from 1.
	last := e.attemptsFor("d1")
	if a := last[len(last)-1]; a.Outcome != forward.Delivered || a.Number != 1 {
		t.Fatalf("re-driven attempt %+v", a)
	}
	// The rest, and nothing twice.
	if n, err := f.Redrive(context.Background(), "d1", nil); err != nil || n != 1 {
		t.Fatalf("re-drove %d: %v", n, err)
	}
	e.settled("d1")
	r.exactlyOnce(ids)
	if rest, _ := f.ListDead(context.Background(), "d1", 0); len(rest) != 0 {
		t.Fatalf("left %+v", rest)
	}
}

// An event older than max_age is dead-lettered without a request.
func TestMaxAge(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	d := destination("d1", "t1", r, "k")
	d.RetryPolicy.MaxAge = durationpb.New(time.Hour)
	e.dests.add(d)
	f := e.start(forward.Options{})

	ev := &plugsv1.UsageEvent{Id: "u-old", TenantId: "t1", SourceId: "src", EventId: "old", Quantity: "1",
		ReceiveTime: timestamppb.New(time.Now().Add(-2 * time.Hour))}
	if _, err := e.store.Enqueue(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	e.settled("d1")
	if n := r.requests.Load(); n != 0 {
		t.Fatalf("%d requests", n)
	}
	dead, _ := f.ListDead(context.Background(), "d1", 0)
	if len(dead) != 1 || dead[0].Reason != forward.ReasonExpired || dead[0].Attempts != 0 {
		t.Fatalf("%+v", dead)
	}
}

// A destination on a private address is refused by the egress guard and
// dead-lettered without being retried. The tenant's delivery log and dead
// letter say the address is not allowed, not what the host name resolved
// to: that would let a tenant map the operator's network.
func TestEgressGuardRefusal(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	d := destination("d1", "t1", r, "k")
	d.Url = strings.Replace(d.Url, "127.0.0.1", "localhost", 1)
	e.dests.add(d)
	strict, err := egress.NewGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := e.start(forward.Options{Client: strict.Client(0)})
	e.put("t1", "src", "g", 1)
	e.settled("d1")
	if n := r.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached a loopback destination", n)
	}
	dead, _ := f.ListDead(context.Background(), "d1", 0)
	if len(dead) != 1 || dead[0].Reason != forward.ReasonRejected || dead[0].Attempts != 1 || !strings.Contains(dead[0].LastError, "not allowed") {
		t.Fatalf("%+v", dead)
	}
	attempts := e.attemptsFor("d1")
	if len(attempts) != 1 || !errors.Is(attempts[0].Err, egress.ErrForbiddenAddress) {
		t.Fatalf("attempts %+v", attempts)
	}
	for _, text := range []string{dead[0].LastError, attempts[0].Err.Error()} {
		if strings.Contains(text, "127.0.0.1") || strings.Contains(text, "::1") || strings.Contains(text, "127.0.0.0/8") {
			t.Errorf("the error reveals the resolved address: %q", text)
		}
	}
}

// A destination whose requests hang does not delay another's deliveries.
func TestSlowDestinationDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	slow := newReceiver(t, []byte("k"), "")
	slow.answer = func(int, http.ResponseWriter, *http.Request) int {
		<-release
		return http.StatusOK
	}
	fast := newReceiver(t, []byte("k"), "")
	sd := destination("d-slow", "t1", slow, "k")
	sd.MaxConcurrency = 2
	e.dests.add(sd)
	e.dests.add(destination("d-fast", "t1", fast, "k"))
	e.start(forward.Options{})
	// Registered after start, so it runs before the forwarder stops.
	t.Cleanup(func() { close(release) })

	ids := e.put("t1", "src", "s", 30)
	start := time.Now()
	eventually(t, 5*time.Second, func() bool { return fast.count() == len(ids) }, "the fast destination did not get its events")
	t.Logf("fast destination got %d events in %v while the slow one held %d requests", len(ids), time.Since(start), slow.inFlight.Load())
	if n := slow.requests.Load(); n > 2 {
		t.Fatalf("slow destination got %d requests with 2 hanging", n)
	}
	fast.exactlyOnce(ids)
}

// No more than max_concurrency requests are in flight to a destination.
func TestMaxConcurrency(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(int, http.ResponseWriter, *http.Request) int {
		time.Sleep(30 * time.Millisecond)
		return http.StatusOK
	}
	d := destination("d1", "t1", r, "k")
	d.MaxConcurrency = 3
	e.dests.add(d)
	e.start(forward.Options{})

	ids := e.put("t1", "src", "c", 30)
	e.settled("d1")
	r.exactlyOnce(ids)
	if m := r.maxFlight.Load(); m > 3 || m < 2 {
		t.Fatalf("%d requests in flight at most, want up to 3 (and more than 1)", m)
	}
}

// A paused destination gets nothing; resumed, it gets everything queued
// meanwhile.
func TestPausedThenResumed(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	d := destination("d1", "t1", r, "k")
	d.Status = plugsv1.Destination_STATUS_PAUSED
	e.dests.add(d)
	f := e.start(forward.Options{})

	ids := e.put("t1", "src", "p", 10)
	// Routed: the deliveries wait in the stream.
	eventually(t, 10*time.Second, func() bool {
		s, err := e.conn.JS.Stream(context.Background(), "PLUGS_DELIVERIES")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs == uint64(len(ids))
	}, "events not routed to the paused destination")
	time.Sleep(200 * time.Millisecond) // several reconciliations: still nothing
	if n := r.requests.Load(); n != 0 {
		t.Fatalf("paused destination got %d requests", n)
	}

	e.dests.update("d1", func(d *plugsv1.DestinationConfig) { d.Status = plugsv1.Destination_STATUS_ACTIVE })
	f.Reconcile()
	e.settled("d1")
	r.exactlyOnce(ids)

	// Paused again mid-stream: what is queued waits.
	e.dests.update("d1", func(d *plugsv1.DestinationConfig) { d.Status = plugsv1.Destination_STATUS_PAUSED })
	f.Reconcile()
	e.waitNotPulled(t, "d1")
	more := e.put("t1", "src", "q", 5)
	time.Sleep(200 * time.Millisecond)
	if n := r.requests.Load(); n != int64(len(ids)) {
		t.Fatalf("paused destination got %d requests", n-int64(len(ids)))
	}
	e.dests.update("d1", func(d *plugsv1.DestinationConfig) { d.Status = plugsv1.Destination_STATUS_ACTIVE })
	f.Reconcile()
	e.settled("d1")
	r.exactlyOnce(append(ids, more...))
}

// Stopping a forwarder mid-stream and starting a new one on the same
// streams delivers every event once: attempts in flight are finished, the
// rest is taken up by the new forwarder.
func TestRestartDeliversNothingTwice(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(int, http.ResponseWriter, *http.Request) int {
		time.Sleep(20 * time.Millisecond)
		return http.StatusOK
	}
	d := destination("d1", "t1", r, "k")
	d.MaxConcurrency = 2
	e.dests.add(d)
	first := e.start(forward.Options{})

	ids := e.put("t1", "src", "first", 40)
	eventually(t, 10*time.Second, func() bool { return r.count() >= 5 }, "nothing delivered")
	first.Stop()
	stoppedAt := r.requests.Load()
	if stoppedAt >= int64(len(ids)) {
		t.Fatalf("all %d delivered before the stop; the test proves nothing", stoppedAt)
	}
	if n := r.inFlight.Load(); n != 0 {
		t.Fatalf("%d requests still in flight after Stop", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := r.requests.Load(); n != stoppedAt {
		t.Fatalf("%d requests after Stop", n-stoppedAt)
	}
	ids = append(ids, e.put("t1", "src", "second", 10)...)

	e.start(forward.Options{})
	e.settled("d1")
	r.exactlyOnce(ids)
	if n := r.requests.Load(); n != int64(len(ids)) {
		t.Fatalf("%d requests for %d events", n, len(ids))
	}
}

// An event waiting for its retry does not hold up the destination's other
// deliveries, even with a concurrency of one.
func TestRetryWaitDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	var stuck atomic.Value // the webhook-id that always fails
	r.answer = func(n int, _ http.ResponseWriter, req *http.Request) int {
		id := req.Header.Get("webhook-id")
		if n == 1 {
			stuck.Store(id)
		}
		if stuck.Load() == id {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	d := destination("one-at-a-time", "t1", r, "k")
	d.MaxConcurrency = 1
	d.RetryPolicy.InitialBackoff = durationpb.New(time.Minute)
	d.RetryPolicy.MaxBackoff = durationpb.New(time.Minute)
	e.dests.add(d)
	e.start(forward.Options{})
	ids := e.put("t1", "src", "y", 6)
	// Five get through while the first waits a minute for its retry.
	eventually(t, 10*time.Second, func() bool { return r.count() == len(ids)-1 }, "deliveries held up behind a retry")
}
