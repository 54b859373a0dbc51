package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func invoice(id string) string {
	return fmt.Sprintf(`{"id":%q,"type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_1"}}}`, id)
}

// Every accepted webhook reaches the destination exactly once, signed.
func TestEachAcceptedWebhookDeliveredOnce(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)
	const n = 30
	for i := range n {
		if code := w.send(src, invoice(fmt.Sprint("evt_", i))); code != 200 {
			t.Fatalf("webhook %d answered %d", i, code)
		}
	}
	waitFor(t, "all delivered", func() bool { return b.distinct() == n && w.settled(dest) })
	for i := range n {
		if c := b.count(fmt.Sprint("evt_", i)); c != 1 {
			t.Fatalf("evt_%d delivered %d times", i, c)
		}
	}
}

// The same event sent 50 times at once is answered 200 every time, stored
// once and delivered once.
func TestConcurrentRetriesDeliveredOnce(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if code := w.send(src, invoice("evt_storm")); code != 200 {
				t.Errorf("answered %d", code)
			}
		})
	}
	wg.Wait()
	waitFor(t, "delivered", func() bool { return b.count("evt_storm") >= 1 && w.settled(dest) })
	if c := b.count("evt_storm"); c != 1 {
		t.Fatalf("delivered %d times", c)
	}
}

// A destination failing with 500 for a while gets every event once it
// recovers. (For a second: failing a number of requests instead would
// measure the circuit's probe spacing, not recovery.)
func TestFailingDestinationGetsEverythingAfterRecovery(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	var mu sync.Mutex
	var first time.Time
	b.fail = func(int) bool {
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = time.Now()
		}
		return time.Since(first) < time.Second
	}
	dest := w.destination(b.srv.URL, key, &plugsv1.RetryPolicy{
		InitialBackoff: durationpb.New(20 * time.Millisecond), MaxBackoff: durationpb.New(200 * time.Millisecond),
	})
	for i := range 10 {
		if code := w.send(src, invoice(fmt.Sprint("evt_", i))); code != 200 {
			t.Fatalf("answered %d", code)
		}
	}
	waitFor(t, "all delivered after the outage", func() bool { return b.distinct() == 10 && w.settled(dest) })
	for i := range 10 {
		if c := b.count(fmt.Sprint("evt_", i)); c != 1 {
			t.Fatalf("evt_%d delivered %d times", i, c)
		}
	}
}

// A destination down past its retry schedule puts the event in the dead
// letters; re-driving them once it is back delivers it.
func TestDeadLetterAndRedrive(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	down := true
	var mu sync.Mutex
	b.fail = func(int) bool { mu.Lock(); defer mu.Unlock(); return down }
	dest := w.destination(b.srv.URL, key, &plugsv1.RetryPolicy{
		MaxAttempts: 3, InitialBackoff: durationpb.New(20 * time.Millisecond), MaxBackoff: durationpb.New(50 * time.Millisecond),
	})
	if code := w.send(src, invoice("evt_dead")); code != 200 {
		t.Fatalf("answered %d", code)
	}
	var dead []forward.DeadLetter
	waitFor(t, "a dead letter", func() bool {
		var err error
		dead, err = forward.ListDead(context.Background(), w.nats.JS, dest, 10)
		return err == nil && len(dead) == 1
	})
	if dead[0].Attempts != 3 {
		t.Fatalf("dead letter after %d attempts", dead[0].Attempts)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	n, err := forward.Redrive(context.Background(), w.nats.JS, dest, nil)
	if err != nil || n != 1 {
		t.Fatalf("redrive: %d %v", n, err)
	}
	waitFor(t, "re-driven delivery", func() bool { return b.count("evt_dead") == 1 && w.settled(dest) })
}
