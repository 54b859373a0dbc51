package backbone_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func startBackbone(t *testing.T) (*backbone.Embedded, *backbone.Conn) {
	t.Helper()
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv, conn
}

func event(source, id string) *plugsv1.UsageEvent {
	return &plugsv1.UsageEvent{Id: "u-" + id, SourceId: source, EventId: id, EventType: "invoice.paid", Quantity: "1"}
}

// The same event stored 50 times at once is stored once; the other 49 are
// told they are duplicates.
func TestConcurrentDuplicatesStoreOnce(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, dups := 0, 0
	for range 50 {
		wg.Go(func() {
			dup, err := store.Enqueue(context.Background(), event("src-1", "evt_same"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case dup:
				dups++
			default:
				stored++
			}
		})
	}
	wg.Wait()
	if stored != 1 || dups != 49 {
		t.Fatalf("stored %d, duplicates %d", stored, dups)
	}
	// Another source with the same provider id, and another id, are new.
	for _, ev := range []*plugsv1.UsageEvent{event("src-2", "evt_same"), event("src-1", "evt_other")} {
		if dup, err := store.Enqueue(context.Background(), ev); err != nil || dup {
			t.Fatalf("%v: dup=%v err=%v", ev, dup, err)
		}
	}
	s, err := conn.JS.Stream(context.Background(), backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("%d messages stored, want 3", info.State.Msgs)
	}
	msg, err := s.GetLastMsgForSubject(context.Background(), backbone.Subject(event("src-1", "evt_same")))
	if err != nil {
		t.Fatal(err)
	}
	got := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data, got); err != nil || got.GetEventId() != "evt_same" {
		t.Fatalf("stored %v (%v)", got, err)
	}
}

// Test events and unverified events have id spaces of their own: one with
// the id of the provider's real event stores beside it, never in its place,
// and each is still a duplicate of itself.
func TestEventKindsHaveTheirOwnIDSpace(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS}
	kinds := func() []*plugsv1.UsageEvent {
		real, test, unverified, both := event("src-1", "evt_1"), event("src-1", "evt_1"), event("src-1", "evt_1"), event("src-1", "evt_1")
		test.Test, unverified.Unverified = true, true
		both.Test, both.Unverified = true, true
		return []*plugsv1.UsageEvent{test, unverified, both, real}
	}
	subjects := map[string]bool{}
	for _, ev := range kinds() {
		subjects[backbone.Subject(ev)] = true
		if dup, err := store.Enqueue(context.Background(), ev); err != nil || dup {
			t.Fatalf("test=%v unverified=%v: dup=%v err=%v", ev.GetTest(), ev.GetUnverified(), dup, err)
		}
	}
	if len(subjects) != 4 {
		t.Fatalf("%d subjects for 4 kinds", len(subjects))
	}
	for _, ev := range kinds() {
		if dup, err := store.Enqueue(context.Background(), ev); err != nil || !dup {
			t.Fatalf("again, test=%v unverified=%v: dup=%v err=%v", ev.GetTest(), ev.GetUnverified(), dup, err)
		}
	}
	// An id that spells another kind's subject token stays in its own space.
	tricky := event("src-1", "test.evt_1")
	if dup, err := store.Enqueue(context.Background(), tricky); err != nil || dup {
		t.Fatalf("id %q: dup=%v err=%v", tricky.GetEventId(), dup, err)
	}
}

// A duplicate names the event already stored, not the id generated for
// the request that was refused, however many race to store it.
func TestDuplicateNamesTheStoredEvent(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS}
	evs := make([]*plugsv1.UsageEvent, 20)
	dup := make([]bool, len(evs))
	var wg sync.WaitGroup
	for i := range evs {
		evs[i] = event("src-1", "evt_same")
		evs[i].Id = fmt.Sprintf("request-%d", i)
		wg.Go(func() {
			var err error
			if dup[i], err = store.Enqueue(context.Background(), evs[i]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, err := conn.JS.Stream(context.Background(), backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(context.Background(), backbone.Subject(event("src-1", "evt_same")))
	if err != nil {
		t.Fatal(err)
	}
	stored := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data, stored); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, ev := range evs {
		if ev.GetId() != stored.GetId() {
			t.Errorf("request %d (duplicate %v) names event %q; the stored one is %q", i, dup[i], ev.GetId(), stored.GetId())
		}
		if !dup[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d stored", n)
	}
}

// After the dedup window the same id is new again.
func TestDedupWindowExpires(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS, Window: func(string) time.Duration { return time.Second }}
	if dup, err := store.Enqueue(context.Background(), event("s", "e")); err != nil || dup {
		t.Fatal(dup, err)
	}
	if dup, _ := store.Enqueue(context.Background(), event("s", "e")); !dup {
		t.Fatal("second store within the window was not a duplicate")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		dup, err := store.Enqueue(context.Background(), event("s", "e"))
		if err != nil {
			t.Fatal(err)
		}
		if !dup {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the id was remembered past its window")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With the server gone a store fails within its timeout, as unavailable.
func TestUnavailableBackbone(t *testing.T) {
	srv, conn := startBackbone(t)
	srv.Shutdown()
	store := &backbone.EventStore{JS: conn.JS, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := store.Enqueue(context.Background(), event("s", fmt.Sprint(time.Now().UnixNano())))
	if !errors.Is(err, backbone.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the store did not give up in time")
	}
}
