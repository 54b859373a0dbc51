package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

const goCardlessSecret = "gocardless-endpoint-secret-0123"

// goCardlessBody is a GoCardless webhook of n events, EV0….
func goCardlessBody(n int) string {
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"id":"EV%d","action":"confirmed","resource_type":"payments","links":{"customer":"CU%d"}}`, i, i))
	}
	return `{"events":[` + strings.Join(items, ",") + `],"meta":{"webhook_id":"WB1"}}`
}

// The preview of a batch source shows what each item maps to; a body over
// the item limit says so; a draft batch that does not compile is refused.
func TestPreviewBatch(t *testing.T) {
	e := startEnv(t, "sqlite")
	req := newSource("gocardless", goCardlessSecret)
	req.Source.TemplateId = "gocardless"
	src, err := e.sources().CreateSource(as(e.keyA), req)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(goCardlessBody(3), `"links":{"customer":"CU1"}`, `"links":{}`, 1)
	resp, err := e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{
		Id: src.GetId(), Body: body,
		EventFilter: &plugsv1.EventFilter{Expression: `$[?(@.id != "EV2")]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetEvent() != nil || len(resp.GetItems()) != 3 {
		t.Fatalf("preview %v", resp)
	}
	first, second, third := resp.GetItems()[0], resp.GetItems()[1], resp.GetItems()[2]
	if ev := first.GetEvent(); ev.GetEventId() != "EV0" || ev.GetCustomerId() != "CU0" || ev.GetProperties()["webhook_id"] != "WB1" || first.GetIndex() != 0 {
		t.Fatalf("item 0: %v", first)
	}
	if ev := second.GetEvent(); ev.GetEventId() != "EV1" || ev.GetCustomerId() != "" || !hasFieldError(second.GetFieldErrors(), "customer_id") {
		t.Fatalf("item 1: %v", second)
	}
	if !third.GetFiltered() || third.GetIndex() != 2 {
		t.Fatalf("item 2: %v", third)
	}

	draft := func(b *plugsv1.Batch) *plugsv1.FieldMappings {
		return &plugsv1.FieldMappings{Batch: b, EventId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.id"}}}
	}
	resp, err = e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{Id: src.GetId(), Body: body,
		FieldMappings: draft(&plugsv1.Batch{ItemsPath: "$.events[*]", MaxItems: 2})})
	if err != nil || !strings.Contains(resp.GetParseError(), "3 items, the limit is 2") || len(resp.GetItems()) != 0 {
		t.Fatalf("over the limit: %v %v", resp, err)
	}
	for name, m := range map[string]*plugsv1.FieldMappings{
		"items path of a filter": draft(&plugsv1.Batch{ItemsPath: "$.events[?(@.id)]"}),
		"limit":                  draft(&plugsv1.Batch{ItemsPath: "$.events[*]", MaxItems: 10001}),
		"envelope id":            {Batch: &plugsv1.Batch{ItemsPath: "$.events[*]"}, EventId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$$.meta.webhook_id"}}},
		"envelope without batch": {EventId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$$.id"}}},
	} {
		_, err := e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{Id: src.GetId(), Body: body, FieldMappings: m})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: got %v, want InvalidArgument", name, err)
		}
	}
}

func hasFieldError(fs []*plugsv1.FieldError, field string) bool {
	for _, f := range fs {
		if f.GetField() == field {
			return true
		}
	}
	return false
}

// A batch receipt is indexed with its items, and replaying it runs every
// item again, each deduplicated on its own: the items stored before are
// duplicates, the one that was not is stored now.
func TestReplayBatchReceipt(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReplayBatchReceipt(t, d) })
	}
}

func testReplayBatchReceipt(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	ctx := context.Background()
	req := newSource("gocardless", goCardlessSecret)
	req.Source.TemplateId = "gocardless"
	src, err := w.sources().CreateSource(as(w.keyA), req)
	if err != nil {
		t.Fatal(err)
	}
	sourceID := uuid.MustParse(src.GetId())
	eventually(t, "the source in the configuration", func() bool { return w.srv.Cache.Source(src.GetId()) != nil })
	tenantID := uuid.MustParse(w.srv.Cache.Source(src.GetId()).GetTenantId())

	// Two of the three events were stored when the webhook first came; the
	// third was not (the request was answered 503).
	store := &backbone.EventStore{JS: w.js}
	for _, id := range []string{"EV0", "EV2"} {
		if _, err := store.Enqueue(ctx, &plugsv1.UsageEvent{Id: uuid.NewString(), SourceId: src.GetId(), EventId: id}); err != nil {
			t.Fatal(err)
		}
	}
	body := goCardlessBody(3)
	tpl, _ := templates.MustBuiltin().Get("gocardless")
	now := time.Now()
	signed, err := verify.Sign(tpl.GetSignatureScheme(), goCardlessSecret, verify.Message{Body: []byte(body)}, now)
	if err != nil {
		t.Fatal(err)
	}
	orig := mkReceipt(tenantID, sourceID, now)
	orig.Headers = []*plugsv1.ReceiptHeader{{Name: "Content-Type", Values: []string{"application/json"}}}
	for name, values := range signed.Header {
		orig.Headers = append(orig.Headers, &plugsv1.ReceiptHeader{Name: name, Values: values})
	}
	orig.Body, orig.EventType = []byte(body), ""
	orig.Outcome, orig.Cause, orig.StatusCode = plugsv1.Receipt_OUTCOME_REJECTED, "backbone_unavailable", 503
	orig.ItemCount = 3
	orig.Items = []*plugsv1.ReceiptItem{
		{Index: 0, Outcome: plugsv1.Receipt_OUTCOME_ACCEPTED, EventType: "confirmed", ProviderEventId: "EV0", UsageEventId: uuid.NewString()},
		{Index: 1, Outcome: plugsv1.Receipt_OUTCOME_REJECTED, Cause: "backbone_unavailable", Detail: "backbone: unavailable", EventType: "confirmed", ProviderEventId: "EV1"},
		{Index: 2, Outcome: plugsv1.Receipt_OUTCOME_ACCEPTED, EventType: "confirmed", ProviderEventId: "EV2", UsageEventId: uuid.NewString()},
	}
	orig.Latency = durationpb.New(time.Millisecond)
	w.publish(orig)
	listed := w.waitListed(w.keyA, sourceID, 1)
	if listed[0].GetItemCount() != 3 || len(listed[0].GetItems()) != 0 {
		t.Fatalf("listed: %v", listed[0])
	}
	got, err := w.receiptSvc().GetReceipt(as(w.keyA), &plugsv1.GetReceiptRequest{Id: orig.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetItems()) != 3 {
		t.Fatalf("stored items: %v", got.GetItems())
	}
	for i := range orig.Items {
		if g, o := got.GetItems()[i], orig.Items[i]; g.GetIndex() != o.GetIndex() || g.GetOutcome() != o.GetOutcome() || g.GetCause() != o.GetCause() ||
			g.GetProviderEventId() != o.GetProviderEventId() || g.GetUsageEventId() != o.GetUsageEventId() || g.GetDetail() != o.GetDetail() {
			t.Fatalf("item %d stored as %v, was %v", i, g, o)
		}
	}

	resp, err := w.receiptSvc().ReplayReceipt(as(w.keyA), &plugsv1.ReplayReceiptRequest{Id: orig.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	rc := resp.GetReceipt()
	if rc.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || !rc.GetReplay() || rc.GetItemCount() != 3 || rc.GetDetail() != "3 items: 1 accepted, 2 duplicate" {
		t.Fatalf("replay: %v", rc)
	}
	for i, want := range []plugsv1.Receipt_Outcome{plugsv1.Receipt_OUTCOME_DUPLICATE, plugsv1.Receipt_OUTCOME_ACCEPTED, plugsv1.Receipt_OUTCOME_DUPLICATE} {
		if it := rc.GetItems()[i]; it.GetOutcome() != want || it.GetProviderEventId() != fmt.Sprintf("EV%d", i) {
			t.Fatalf("replayed item %d: %v", i, it)
		}
	}
	s, err := w.js.Stream(ctx, backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("the events stream holds %d events, want 3", n)
	}
}
