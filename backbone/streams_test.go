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

// The receipts and the delivery log are kept for the receipt retention,
// which a later EnsureStreams may change, and each keeps a message
// published twice with the same Nats-Msg-Id once.
func TestLogStreams(t *testing.T) {
	_, conn := startBackbone(t)
	ctx := context.Background()
	check := func(retention time.Duration) {
		t.Helper()
		for name, subject := range map[string]string{
			backbone.ReceiptsStream: backbone.ReceiptSubject("t1", "s1"),
			backbone.AttemptsStream: backbone.AttemptSubject("t1", "d1"),
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
			if c.MaxAge != retention || c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy ||
				c.Discard != jetstream.DiscardOld || c.Replicas != 1 || c.Duplicates != time.Minute {
				t.Fatalf("%s: %+v", name, c)
			}
			for range 2 {
				ack, err := conn.JS.Publish(ctx, subject, []byte("x"), jetstream.WithMsgID("id-"+retention.String()), jetstream.WithExpectStream(name))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if ack.Stream != name {
					t.Fatalf("%s stored in %s", subject, ack.Stream)
				}
			}
		}
	}
	check(backbone.DefaultReceiptRetention)
	if got := backbone.AttemptSubject("t1", "d1"); got != "plugs.attempts.t1.d1" {
		t.Fatalf("attempt subject %q", got)
	}
	if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{ReceiptRetention: 7 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	check(7 * 24 * time.Hour)
	s, err := conn.JS.Stream(ctx, backbone.AttemptsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One message per retention checked: the update kept what was there.
	if info.State.Msgs != 2 {
		t.Fatalf("attempts stream holds %d messages, want 2", info.State.Msgs)
	}
}
