package backbone_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// startFsyncBackbone starts a server that syncs every write, with an
// events stream that takes atomic batches, as plugs dev --nats-fsync does.
func startFsyncBackbone(t *testing.T) *backbone.Conn {
	t.Helper()
	srv, err := backbone.StartEmbeddedWith(t.TempDir(), "127.0.0.1", -1, backbone.DurabilityFsync, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{GroupCommit: true}); err != nil {
		t.Fatal(err)
	}
	return conn
}

// enqueueAll stores evs concurrently and counts the outcomes.
func enqueueAll(t *testing.T, store *backbone.EventStore, evs []*plugsv1.UsageEvent) (stored map[string]int, dups int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored = map[string]int{}
	for _, ev := range evs {
		wg.Go(func() {
			dup, err := store.Enqueue(context.Background(), ev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case dup:
				dups++
			default:
				stored[backbone.Subject(ev)]++
			}
		})
	}
	wg.Wait()
	return stored, dups
}

func streamMsgs(t *testing.T, conn *backbone.Conn) uint64 {
	t.Helper()
	s, err := conn.JS.Stream(context.Background(), backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// Concurrent webhooks stored by group commit: new events are stored in
// shared batches, each once and told so; every repeat (racing its first
// copy, or of an event stored before, inside a batch of new ones) is told
// it is a duplicate, and the stream holds exactly the new events.
func TestGroupCommitStoresEachEventOnce(t *testing.T) {
	conn := startFsyncBackbone(t)
	store := &backbone.EventStore{JS: conn.JS, GroupCommit: true}
	const distinct = 300
	var first []*plugsv1.UsageEvent
	for i := range distinct {
		first = append(first, event(fmt.Sprint("src-", i%7), fmt.Sprint("evt_", i)))
	}
	stored, dups := enqueueAll(t, store, first)
	if len(stored) != distinct || dups != 0 {
		t.Fatalf("%d events stored, %d duplicates; want %d and 0", len(stored), dups, distinct)
	}
	if backbone.GroupCommits(store) == 0 {
		t.Fatal("no batch committed: every event was stored on its own")
	}

	// Old ids again, each twice, mixed with as many new ones.
	var second []*plugsv1.UsageEvent
	for i := range distinct {
		second = append(second, proto.Clone(first[i]).(*plugsv1.UsageEvent), proto.Clone(first[i]).(*plugsv1.UsageEvent), event("src-new", fmt.Sprint("evt_", i)))
	}
	stored, dups = enqueueAll(t, store, second)
	if len(stored) != distinct || dups != 2*distinct {
		t.Fatalf("%d events stored, %d duplicates; want %d and %d", len(stored), dups, distinct, 2*distinct)
	}
	for subject, n := range stored {
		if n != 1 || !strings.Contains(subject, "src-new") {
			t.Fatalf("%s stored %d times", subject, n)
		}
	}
	if n := streamMsgs(t, conn); n != 2*distinct {
		t.Fatalf("%d messages in the stream, want %d", n, 2*distinct)
	}

	// Another data plane, which has not seen those ids: a few old ones
	// inside batches of new ones make the server refuse the batches, and
	// halving them finds each its outcome.
	other := &backbone.EventStore{JS: conn.JS, GroupCommit: true}
	var third []*plugsv1.UsageEvent
	for i := range distinct {
		third = append(third, event("src-third", fmt.Sprint("evt_", i)))
		if i%15 == 0 {
			third = append(third, proto.Clone(first[i]).(*plugsv1.UsageEvent))
		}
	}
	stored, dups = enqueueAll(t, other, third)
	if len(stored) != distinct || dups != distinct/15 {
		t.Fatalf("%d events stored, %d duplicates; want %d and %d", len(stored), dups, distinct, distinct/15)
	}
	if n := streamMsgs(t, conn); n != 3*distinct {
		t.Fatalf("%d messages in the stream, want %d", n, 3*distinct)
	}
}

// A stream that does not allow atomic batches (a data plane configured
// for group commit against streams made without it) still stores every
// event: the committer falls back to one publish per event.
func TestGroupCommitWithoutAtomicStream(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS, GroupCommit: true}
	var evs []*plugsv1.UsageEvent
	for i := range 100 {
		evs = append(evs, event("src-1", fmt.Sprint("evt_", i)))
	}
	if stored, dups := enqueueAll(t, store, evs); len(stored) != 100 || dups != 0 {
		t.Fatalf("%d events stored, %d duplicates", len(stored), dups)
	}
	if n := streamMsgs(t, conn); n != 100 {
		t.Fatalf("%d messages in the stream, want 100", n)
	}
}
