package backbone_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plugshq/plugs/backbone"
)

// setEventsMaxMsgs limits how many events the events stream holds; with
// its discard-new policy, a publish past the limit is refused.
func setEventsMaxMsgs(t *testing.T, conn *backbone.Conn, n int64) {
	t.Helper()
	ctx := context.Background()
	s, err := conn.JS.Stream(ctx, backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgs = n
	if _, err := conn.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// A stream full to its limit refuses a new event with the same error code
// as a duplicate: the event must be reported unstored (503 and a retry),
// never taken for a duplicate and dropped.
func TestStreamLimitIsNoDuplicate(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS}
	ctx := context.Background()
	setEventsMaxMsgs(t, conn, 2)
	for _, id := range []string{"evt_1", "evt_2"} {
		if dup, err := store.Enqueue(ctx, event("src-1", id)); err != nil || dup {
			t.Fatalf("%s: dup=%v err=%v", id, dup, err)
		}
	}
	dup, err := store.Enqueue(ctx, event("src-1", "evt_3"))
	if dup || !errors.Is(err, backbone.ErrUnavailable) {
		t.Fatalf("past the limit: dup=%v err=%v, want ErrUnavailable", dup, err)
	}
	// A true duplicate is still one while the stream is full.
	if dup, err := store.Enqueue(ctx, event("src-1", "evt_1")); err != nil || !dup {
		t.Fatalf("duplicate: dup=%v err=%v", dup, err)
	}
	setEventsMaxMsgs(t, conn, -1)
	if dup, err := store.Enqueue(ctx, event("src-1", "evt_3")); err != nil || dup {
		t.Fatalf("after the limit is lifted: dup=%v err=%v", dup, err)
	}
}
