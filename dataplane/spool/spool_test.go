package spool_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/spool"
)

var quiet = slog.New(slog.DiscardHandler)

// sink is a publish function that stores what it is given, failing the
// first fail calls.
type sink struct {
	mu    sync.Mutex
	got   []int
	calls int
	fail  int
}

func (s *sink) publish(_ context.Context, v int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.fail {
		return errors.New("refused")
	}
	s.got = append(s.got, v)
	return nil
}

func (s *sink) values() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.got...)
}

// A full buffer drops and counts instead of blocking the caller.
func TestFullBufferNeverBlocks(t *testing.T) {
	s := &sink{}
	sp := spool.New(s.publish, spool.Options[int]{Size: 2, Log: quiet}) // not running: nothing drains it
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			sp.Record(i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	if sp.Dropped() != 98 {
		t.Fatalf("dropped %d, want 98", sp.Dropped())
	}
	// What was kept is published once Run starts, even when stopped at
	// once.
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	cancel()
	<-sp.Done()
	got := s.values()
	slices.Sort(got) // publishers run side by side: in no particular order
	if len(got) != 2 || got[0] != 0 || got[1] != 1 || sp.Published() != 2 {
		t.Fatalf("published %v (%d)", got, sp.Published())
	}
}

// A refused publish is tried again; one refused every time is dropped and
// counted, and the next record is published.
func TestRetriesThenDrops(t *testing.T) {
	s := &sink{fail: 4}
	// One publisher, so the refusals fall on the records in order.
	sp := spool.New(s.publish, spool.Options[int]{Log: quiet, Workers: 1, Attrs: func(v int) []any { return []any{"v", v} }})
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	sp.Record(1) // refused three times: dropped
	sp.Record(2) // refused once, then published
	deadline := time.Now().Add(10 * time.Second)
	for sp.Published()+sp.Dropped() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("published %d, dropped %d", sp.Published(), sp.Dropped())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-sp.Done()
	if got := s.values(); len(got) != 1 || got[0] != 2 || sp.Dropped() != 1 || sp.Published() != 1 {
		t.Fatalf("published %v, dropped %d", got, sp.Dropped())
	}
}

// Publishes overlap, up to Workers at once: a spool is not limited to one
// record per round trip to the backbone.
func TestPublishesOverlap(t *testing.T) {
	const workers = 4
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	publish := func(ctx context.Context, v int) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	}
	sp := spool.New(publish, spool.Options[int]{Log: quiet, Workers: workers})
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	for i := range 20 {
		sp.Record(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := inFlight
		mu.Unlock()
		if n == workers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d publishes under way, want %d", n, workers)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	cancel()
	<-sp.Done()
	if sp.Published() != 20 || most != workers {
		t.Fatalf("published %d, at most %d at once; want 20 and %d", sp.Published(), most, workers)
	}
}

// MaxBytes bounds what waits by size: a record that would pass it is
// dropped, and the room comes back once records are published.
func TestMaxBytes(t *testing.T) {
	s := &sink{}
	sp := spool.New(s.publish, spool.Options[int]{Log: quiet, MaxBytes: 100, Bytes: func(v int) int64 { return int64(v) }})
	sp.Record(60)
	sp.Record(50) // 110 > 100: dropped
	sp.Record(40) // 100: kept
	if sp.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", sp.Dropped())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for sp.Published() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("published %d", sp.Published())
		}
		time.Sleep(time.Millisecond)
	}
	sp.Record(90) // room again
	for sp.Published() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("published %d after the room came back", sp.Published())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-sp.Done()
	if sp.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", sp.Dropped())
	}
}

// Offer says whether a record was queued: true while there is room, by
// count and by bytes, false for each one dropped.
func TestOfferSaysWhetherQueued(t *testing.T) {
	s := &sink{}
	sp := spool.New(s.publish, spool.Options[int]{Size: 3, MaxBytes: 10, Bytes: func(v int) int64 { return int64(v) }, Log: quiet})
	for _, c := range []struct {
		v    int
		want bool
	}{{4, true}, {7, false}, {5, true}, {1, true}, {1, false}} {
		if got := sp.Offer(c.v); got != c.want {
			t.Fatalf("Offer(%d) = %v, want %v", c.v, got, c.want)
		}
	}
	if sp.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2", sp.Dropped())
	}
}
