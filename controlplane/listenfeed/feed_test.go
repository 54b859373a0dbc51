package listenfeed_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/listenfeed"
	"github.com/plugshq/plugs/dataplane/receipts"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const (
	tenant      = "0192d1a0-0000-7000-8000-0000000000aa"
	otherTenant = "0192d1a0-0000-7000-8000-0000000000bb"
	srcA        = "0192d1a0-0000-7000-8000-000000000001"
	srcB        = "0192d1a0-0000-7000-8000-000000000002"
)

func backboneConn(t *testing.T) *backbone.Conn {
	t.Helper()
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return conn
}

func store(t *testing.T, conn *backbone.Conn, tenantID, sourceID, eventID string) {
	t.Helper()
	es := &backbone.EventStore{JS: conn.JS}
	dup, err := es.Enqueue(context.Background(), &plugsv1.UsageEvent{
		Id: uuid.NewString(), TenantId: tenantID, SourceId: sourceID, EventId: eventID, EventType: "invoice.paid",
		ReceiveTime: timestamppb.Now(),
	})
	if err != nil || dup {
		t.Fatalf("store %s: %v (duplicate %v)", eventID, err, dup)
	}
}

func receipt(t *testing.T, conn *backbone.Conn, sourceID, eventID string, outcome plugsv1.Receipt_Outcome) {
	t.Helper()
	if err := receipts.Publish(context.Background(), conn.JS, &plugsv1.Receipt{
		Id: uuid.NewString(), TenantId: tenant, SourceId: sourceID, ProviderEventId: eventID, Outcome: outcome,
		Method: "POST", Body: []byte(`{"id":"` + eventID + `"}`), UsageEventId: uuid.NewString(),
		Headers: []*plugsv1.ReceiptHeader{{Name: "Stripe-Signature", Values: []string{"t=1,v1=ab"}}},
	}); err != nil {
		t.Fatal(err)
	}
}

// read takes the next n events, failing when one does not come.
func read(t *testing.T, r api.ListenReader, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ev, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		ids = append(ids, ev.GetProviderEventId())
	}
	return ids
}

// quiet checks that nothing more comes.
func quiet(t *testing.T, r api.ListenReader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if ev, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v %v, want nothing", ev, err)
	}
}

func consumers(t *testing.T, conn *backbone.Conn, stream string) int {
	t.Helper()
	s, err := conn.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// A reader opened with the cursor of the last event read continues with
// the next: none lost, none repeated. Events stored before the first open,
// and those of sources not asked for, are not read.
func TestResumeNeitherLosesNorRepeats(t *testing.T) {
	conn := backboneConn(t)
	f := &listenfeed.Feed{JS: conn.JS}
	store(t, conn, tenant, srcA, "evt_old")
	q := api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}}
	r, err := f.Open(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		store(t, conn, tenant, srcA, fmt.Sprint("evt_", i))
		store(t, conn, tenant, srcB, fmt.Sprint("evt_b_", i))
	}
	if got := read(t, r, 3); fmt.Sprint(got) != "[evt_0 evt_1 evt_2]" {
		t.Fatalf("read %v", got)
	}
	q.Resume = r.Cursor()
	r.Close()
	if n := consumers(t, conn, backbone.EventsStream); n != 0 {
		t.Fatalf("%d consumers left after Close", n)
	}
	store(t, conn, tenant, srcA, "evt_5")
	r, err = f.Open(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := read(t, r, 3); fmt.Sprint(got) != "[evt_3 evt_4 evt_5]" {
		t.Fatalf("resumed with %v", got)
	}
	quiet(t, r)
	if n := consumers(t, conn, backbone.EventsStream); n != 1 {
		t.Fatalf("%d consumers for one reader", n)
	}

	// A cursor of the events stream is not one of the receipts stream.
	q.Raw = true
	if _, err := f.Open(context.Background(), q); !errors.Is(err, api.ErrResumeToken) {
		t.Fatalf("events cursor in raw mode: %v", err)
	}
	for _, bad := range []string{"x", "djE6ZTp4", "djI6ZToz"} { // not base64url, "v1:e:x", "v2:e:3"
		if _, err := f.Open(context.Background(), api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}, Resume: bad}); !errors.Is(err, api.ErrResumeToken) {
			t.Errorf("resume %q: %v", bad, err)
		}
	}
}

// Raw mode reads the receipts of accepted requests only; the cursor moves
// past the others, so a reader resumed does not scan them again.
func TestRawReadsAcceptedReceipts(t *testing.T) {
	conn := backboneConn(t)
	f := &listenfeed.Feed{JS: conn.JS}
	r, err := f.Open(context.Background(), api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}, Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := r.Cursor()
	receipt(t, conn, srcA, "evt_rejected", plugsv1.Receipt_OUTCOME_REJECTED)
	receipt(t, conn, srcA, "evt_dup", plugsv1.Receipt_OUTCOME_DUPLICATE)
	receipt(t, conn, srcB, "evt_b", plugsv1.Receipt_OUTCOME_ACCEPTED)
	receipt(t, conn, srcA, "evt_ok", plugsv1.Receipt_OUTCOME_ACCEPTED)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rr := ev.GetRequest()
	if ev.GetProviderEventId() != "evt_ok" || ev.GetSourceId() != srcA || ev.GetUsageEvent() != nil || rr == nil ||
		string(rr.GetBody()) != `{"id":"evt_ok"}` || rr.GetHeaders()[0].GetValues()[0] != "t=1,v1=ab" || rr.GetReceiptId() == "" {
		t.Fatalf("event %v", ev)
	}
	if r.Cursor() == start {
		t.Fatal("the cursor did not move")
	}
	quiet(t, r)
}

// Without sources there is nothing to read, and no consumer: an
// unfiltered one would read every tenant's events. The cursor still marks
// where a reader opened later, once sources exist, starts.
func TestNoSourcesReadsNothing(t *testing.T) {
	conn := backboneConn(t)
	f := &listenfeed.Feed{JS: conn.JS}
	store(t, conn, otherTenant, srcB, "evt_before")
	r, err := f.Open(context.Background(), api.ListenQuery{TenantID: tenant})
	if err != nil {
		t.Fatal(err)
	}
	store(t, conn, tenant, srcA, "evt_new")
	quiet(t, r)
	if n := consumers(t, conn, backbone.EventsStream); n != 0 {
		t.Fatalf("%d consumers", n)
	}
	cursor := r.Cursor()
	r.Close()
	r, err = f.Open(context.Background(), api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}, Resume: cursor})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := read(t, r, 1); got[0] != "evt_new" {
		t.Fatalf("read %v", got)
	}
}
