package backbone_test

import (
	"context"
	"fmt"
	"strings"
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
		c := streamInfo(t, conn, name).Config
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
		if n := streamInfo(t, conn, name).State.Msgs; n != 1 {
			t.Fatalf("%s: %d messages, want 1", name, n)
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
			backbone.ReceiptsStream:           backbone.ReceiptSubject("t1", "s1"),
			backbone.UnverifiedReceiptsStream: backbone.UnverifiedReceiptSubject("t1", "s1"),
			backbone.AttemptsStream:           backbone.AttemptSubject("t1", "d1"),
		} {
			c := streamInfo(t, conn, name).Config
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
	// One message per retention checked: the update kept what was there.
	if n := streamInfo(t, conn, backbone.AttemptsStream).State.Msgs; n != 2 {
		t.Fatalf("attempts stream holds %d messages, want 2", n)
	}
}

// The receipts streams have byte limits, by default and as set. Receipts
// of unverified requests fill a stream of their own: past its limit it
// discards its own oldest, and the verified receipts stay.
func TestReceiptStreamLimits(t *testing.T) {
	_, conn := startBackbone(t)
	ctx := context.Background()
	limits := func() (verified, unverified int64) {
		t.Helper()
		for name, p := range map[string]*int64{backbone.ReceiptsStream: &verified, backbone.UnverifiedReceiptsStream: &unverified} {
			info := streamInfo(t, conn, name)
			if info.Config.Discard != jetstream.DiscardOld || info.Config.MaxAge != backbone.DefaultReceiptRetention {
				t.Fatalf("%s: %+v", name, info.Config)
			}
			*p = info.Config.MaxBytes
		}
		return verified, unverified
	}
	if v, u := limits(); v != backbone.DefaultReceiptMaxBytes || u != backbone.DefaultUnverifiedReceiptMaxBytes {
		t.Fatalf("default limits %d and %d", v, u)
	}
	const limit = 64 << 10
	if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{ReceiptMaxBytes: -1, UnverifiedReceiptMaxBytes: limit}); err != nil {
		t.Fatal(err)
	}
	if v, u := limits(); v != -1 || u != limit {
		t.Fatalf("limits %d and %d, want none and %d", v, u, limit)
	}

	body := make([]byte, 4<<10)
	for i := range 5 {
		if _, err := conn.JS.Publish(ctx, backbone.ReceiptSubject("t1", "s1"), body, jetstream.WithMsgID(fmt.Sprint("v", i)),
			jetstream.WithExpectStream(backbone.ReceiptsStream)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if _, err := conn.JS.Publish(ctx, backbone.UnverifiedReceiptSubject("t1", "s1"), body, jetstream.WithMsgID(fmt.Sprint("u", i)),
			jetstream.WithExpectStream(backbone.UnverifiedReceiptsStream)); err != nil {
			t.Fatalf("unverified receipt %d: %v", i, err)
		}
	}
	info := streamInfo(t, conn, backbone.UnverifiedReceiptsStream)
	if info.State.Bytes > limit || info.State.Msgs == 0 || info.State.LastSeq != 100 {
		t.Fatalf("unverified receipts: %d bytes in %d messages, last %d; want at most %d, the newest kept",
			info.State.Bytes, info.State.Msgs, info.State.LastSeq, limit)
	}
	if n := streamInfo(t, conn, backbone.ReceiptsStream).State.Msgs; n != 5 {
		t.Fatalf("verified receipts: %d kept, want all 5", n)
	}
}

func streamInfo(t *testing.T, conn *backbone.Conn, name string) *jetstream.StreamInfo {
	t.Helper()
	ctx := context.Background()
	s, err := conn.JS.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A byte limit the server cannot reserve fails with a message that says
// what to change.
func TestReceiptStreamLimitTooLarge(t *testing.T) {
	_, conn := startBackbone(t)
	err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{ReceiptMaxBytes: 1 << 60})
	if err == nil || !strings.Contains(err.Error(), "max_file_store") {
		t.Fatalf("EnsureStreams with an exabyte limit: %v", err)
	}
}
