package forward_test

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/tracing"
)

// A delivery keeps its webhook's trace context when it becomes a dead
// letter and when it is re-driven, so its later attempts join the trace.
func TestDeadLetterAndRedriveKeepTheTrace(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(int, http.ResponseWriter, *http.Request) int { return http.StatusBadRequest }
	e.dests.add(destination("d1", "t1", r, "k"))
	f := e.start(forward.Options{})

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tracing.Extract(context.Background(), http.Header{"Traceparent": {parent}})
	ev := &plugsv1.UsageEvent{Id: "u-traced", TenantId: "t1", SourceId: "src", EventId: "traced", EventType: "invoice.paid",
		Quantity: "1", EventTime: timestamppb.Now(), ReceiveTime: timestamppb.Now()}
	if dup, err := e.store.Enqueue(ctx, ev); err != nil || dup {
		t.Fatalf("enqueue: dup=%v err=%v", dup, err)
	}
	e.settled("d1")

	last := func(stream, subject string) string {
		t.Helper()
		s, err := e.conn.JS.Stream(context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.GetLastMsgForSubject(context.Background(), subject)
		if err != nil {
			t.Fatalf("%s %s: %v", stream, subject, err)
		}
		return http.Header(m.Header).Get("traceparent")
	}
	if got := last(backbone.DeadStream, backbone.DeadSubject("d1")); got != parent {
		t.Fatalf("dead letter traceparent %q, want %q", got, parent)
	}
	if n, err := f.Redrive(context.Background(), "d1", nil); err != nil || n != 1 {
		t.Fatalf("re-drove %d: %v", n, err)
	}
	if got := last(backbone.DeliveriesStream, backbone.DeliverySubject("d1")); got != parent {
		t.Fatalf("re-driven delivery traceparent %q, want %q", got, parent)
	}
}
