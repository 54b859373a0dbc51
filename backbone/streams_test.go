package backbone_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
)

// EnsureStreams can run again (every data plane runs it at start), and the
// deliveries stream drops a second publish with the same Nats-Msg-Id.
func TestDeliveryStreams(t *testing.T) {
	_, conn := startBackbone(t)
	ctx := context.Background()
	if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	for name, want := range map[string]struct {
		subject string
		maxAge  time.Duration
	}{
		backbone.DeliveriesStream: {backbone.DeliverySubject("d1"), 8 * 24 * time.Hour},
		backbone.DeadStream:       {backbone.DeadSubject("d1"), 30 * 24 * time.Hour},
	} {
		s, err := conn.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Config
		if c.MaxAge != want.maxAge || c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy || c.Duplicates != 10*time.Minute {
			t.Fatalf("%s: %+v", name, c)
		}
		for range 2 {
			ack, err := conn.JS.Publish(ctx, want.subject, []byte("x"), jetstream.WithMsgID("evt:d1"), jetstream.WithExpectStream(name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if ack.Stream != name {
				t.Fatalf("%s stored in %s", want.subject, ack.Stream)
			}
		}
		info, _ = s.Info(ctx)
		if info.State.Msgs != 1 {
			t.Fatalf("%s: %d messages, want 1", name, info.State.Msgs)
		}
	}
}
