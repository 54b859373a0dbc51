package backbone_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/internal/tracing"
)

// A stored event carries the trace of the webhook that stored it in its
// headers. The headers play no part in dedup: a retry in another trace is
// still a duplicate, and the event keeps the first trace. Without a trace
// no header is written.
func TestEventCarriesTraceContext(t *testing.T) {
	_, conn := startBackbone(t)
	store := &backbone.EventStore{JS: conn.JS}
	traced := func(parent string) context.Context {
		return tracing.Extract(context.Background(), http.Header{"Traceparent": {parent}})
	}
	const first = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	const retry = "00-11111111111111111111111111111111-2222222222222222-01"
	if dup, err := store.Enqueue(traced(first), event("src-t", "evt_traced")); err != nil || dup {
		t.Fatalf("dup=%v err=%v", dup, err)
	}
	if dup, err := store.Enqueue(traced(retry), event("src-t", "evt_traced")); err != nil || !dup {
		t.Fatalf("retry in another trace: dup=%v err=%v; want a duplicate", dup, err)
	}
	if _, err := store.Enqueue(context.Background(), event("src-t", "evt_plain")); err != nil {
		t.Fatal(err)
	}
	s, err := conn.JS.Stream(context.Background(), backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(context.Background(), backbone.Subject(event("src-t", "evt_traced")))
	if err != nil {
		t.Fatal(err)
	}
	if got := http.Header(msg.Header).Get("traceparent"); got != first {
		t.Fatalf("stored traceparent %q, want %q", got, first)
	}
	msg, err = s.GetLastMsgForSubject(context.Background(), backbone.Subject(event("src-t", "evt_plain")))
	if err != nil {
		t.Fatal(err)
	}
	if got := http.Header(msg.Header).Get("traceparent"); got != "" {
		t.Fatalf("an untraced event stored with traceparent %q", got)
	}
}
