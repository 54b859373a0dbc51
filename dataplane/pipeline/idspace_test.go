package pipeline_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/pipeline"
)

// A test event, or an unsigned request let through by plugs dev, carrying
// the id of the provider's real event does not take that event's place:
// the real signed event is accepted after them, and each kind is still a
// duplicate of itself. The events say which kind they are.
func TestTestAndUnverifiedEventsKeepTheirOwnIDs(t *testing.T) {
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(stripeStore(t), &backbone.EventStore{JS: conn.JS}, pipeline.Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowUnverified: true,
	})

	unverified := func() *pipeline.Request {
		req := webhook(t, "not the secret")
		req.SkipVerification = true
		return req
	}
	test := func() *pipeline.Request {
		req := webhook(t, traceSecret)
		req.Header.Set(pipeline.TestEventHeader, "true")
		return req
	}
	real := func() *pipeline.Request { return webhook(t, traceSecret) }
	kinds := []struct {
		name             string
		req              func() *pipeline.Request
		test, unverified bool
	}{
		{"unverified", unverified, false, true},
		{"test", test, true, false},
		{"real", real, false, false},
	}
	for _, k := range kinds {
		res := p.Handle(context.Background(), k.req())
		if res.Outcome != pipeline.Accepted {
			t.Fatalf("%s: %s %s %s", k.name, res.Outcome, res.Cause, res.Detail)
		}
		if ev := res.Event; ev.GetEventId() != "evt_trace_1" || ev.GetTest() != k.test || ev.GetUnverified() != k.unverified || res.Test != k.test {
			t.Fatalf("%s: event %v, result test=%v", k.name, ev, res.Test)
		}
	}
	for _, k := range kinds {
		if res := p.Handle(context.Background(), k.req()); res.Outcome != pipeline.Duplicate {
			t.Fatalf("%s again: %s %s", k.name, res.Outcome, res.Detail)
		}
	}
	// The mark is the header's value "true", nothing else.
	req := real()
	req.Header.Set(pipeline.TestEventHeader, "false")
	if res := p.Handle(context.Background(), req); res.Outcome != pipeline.Duplicate || res.Test {
		t.Fatalf("Plugs-Test-Event: false: %s test=%v", res.Outcome, res.Test)
	}
}
