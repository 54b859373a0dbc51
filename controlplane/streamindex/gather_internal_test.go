package streamindex

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// msg is a message of n bytes; gather reads nothing else of it.
type msg struct {
	jetstream.Msg
	n int
}

func (m msg) Data() []byte { return make([]byte, m.n) }

// gather takes what is waiting without waiting when the commit interval
// has passed, and waits out the rest of it for more otherwise, never past
// the batch's bounds.
func TestGather(t *testing.T) {
	ctx := context.Background()
	msgs := make(chan jetstream.Msg, 10)
	for range 3 {
		msgs <- msg{n: 1}
	}
	if b := gather(ctx, msg{n: 1}, msgs, 10, 0); len(b) != 4 {
		t.Fatalf("no wait: %d messages, want the 4 there", len(b))
	}
	if b := gather(ctx, msg{n: 1}, msgs, 10, 0); len(b) != 1 {
		t.Fatalf("nothing waiting: %d messages, want 1", len(b))
	}

	// Messages sent while gather waits join the batch; it returns once
	// full, long before the hour is out.
	go func() {
		for range 4 {
			msgs <- msg{n: 1}
		}
	}()
	if b := gather(ctx, msg{n: 1}, msgs, 5, time.Hour); len(b) != 5 {
		t.Fatalf("waiting: %d messages, want 5", len(b))
	}

	// The bytes bound a batch too.
	msgs <- msg{n: maxBatchBytes}
	msgs <- msg{n: 1}
	if b := gather(ctx, msg{n: 1}, msgs, 10, time.Hour); len(b) != 2 {
		t.Fatalf("bytes: %d messages, want 2", len(b))
	}
	<-msgs

	// The wait ends with the context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if b := gather(cctx, msg{n: 1}, msgs, 10, time.Hour); len(b) != 1 {
		t.Fatalf("cancelled: %d messages, want 1", len(b))
	}
}
