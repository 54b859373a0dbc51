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
	mu      sync.Mutex
	got     []int
	batches [][]int
	calls   int
	fail    int
}

func (s *sink) publish(_ context.Context, vs []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.fail {
		return errors.New("refused")
	}
	s.got = append(s.got, vs...)
	s.batches = append(s.batches, slices.Clone(vs))
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
	publish := func(ctx context.Context, _ []int) error {
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

// Records waiting together are published together, a batch per group
// within BatchRecords and BatchBytes, a record too big to share going
// alone; each is published once and counted as one.
func TestBatchesByGroup(t *testing.T) {
	s := &sink{}
	group := func(v int) string { return []string{"even", "odd"}[v%2] }
	size := func(v int) int64 {
		if v == 1001 {
			return 1000
		}
		return 10
	}
	sp := spool.New(s.publish, spool.Options[int]{Log: quiet, Workers: 1, Group: group, Bytes: size,
		BatchRecords: 8, BatchBytes: 50})
	// Not running yet: everything waits, as under load.
	var want []int
	for i := range 40 {
		sp.Record(i)
		want = append(want, i)
	}
	sp.Record(1001)
	want = append(want, 1001)
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	cancel()
	<-sp.Done()
	got := s.values()
	slices.Sort(got)
	if !slices.Equal(got, want) || sp.Published() != int64(len(want)) || sp.Dropped() != 0 {
		t.Fatalf("published %v (%d), dropped %d", got, sp.Published(), sp.Dropped())
	}
	if len(s.batches) >= len(want) {
		t.Fatalf("%d publishes for %d records", len(s.batches), len(want))
	}
	for _, b := range s.batches {
		if len(b) > 8 || (len(b) > 5 && !slices.Contains(b, 1001)) {
			t.Errorf("batch %v past its bounds", b)
		}
		if slices.Contains(b, 1001) && len(b) != 1 {
			t.Errorf("batch %v: a record bigger than a batch shares it", b)
		}
		for _, v := range b {
			if group(v) != group(b[0]) {
				t.Errorf("batch %v mixes groups", b)
			}
		}
	}
}

// A lone record is published without waiting for company.
func TestLoneRecordGoesAtOnce(t *testing.T) {
	s := &sink{}
	sp := spool.New(s.publish, spool.Options[int]{Log: quiet, Group: func(int) string { return "g" }})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-sp.Done() }()
	go sp.Run(ctx)
	sp.Record(7)
	deadline := time.Now().Add(10 * time.Second)
	for sp.Published() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone record was not published")
		}
		time.Sleep(time.Millisecond)
	}
}

// A batch refused every time drops each of its records and counts each.
func TestRefusedBatchCountsEachRecord(t *testing.T) {
	s := &sink{fail: 3}
	sp := spool.New(s.publish, spool.Options[int]{Log: quiet, Workers: 1, Group: func(int) string { return "g" }})
	for i := range 5 {
		sp.Record(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go sp.Run(ctx)
	cancel()
	<-sp.Done()
	if sp.Dropped() != 5 || sp.Published() != 0 || s.calls != 3 {
		t.Fatalf("dropped %d, published %d, %d publishes; want 5, 0, 3", sp.Dropped(), sp.Published(), s.calls)
	}
}
