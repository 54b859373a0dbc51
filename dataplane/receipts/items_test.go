package receipts_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The receipt of a batch says what became of each item: its outcome and
// cause, its provider event id, and the usage event stored.
func TestBuildListsBatchItems(t *testing.T) {
	src := gitlabSource(t)
	ev := func(id, typ string) *plugsv1.UsageEvent {
		return &plugsv1.UsageEvent{Id: "u-" + id, EventId: id, EventType: typ}
	}
	res := &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseBackboneUnavailable, Source: src, Verified: true,
		Body: []byte(`{"events":[…]}`), Batch: true, Items: []pipeline.Item{
			{Index: 0, Outcome: pipeline.Accepted, Event: ev("EV0", "confirmed")},
			{Index: 1, Outcome: pipeline.Duplicate, Event: ev("EV1", "confirmed")},
			{Index: 2, Outcome: pipeline.Filtered, Event: ev("", "failed")},
			{Index: 3, Outcome: pipeline.Rejected, Cause: pipeline.CauseMappingFailed, Field: "customer_id", Detail: "mapping failed: customer_id: no value at $.links.customer"},
			{Index: 4, Outcome: pipeline.Rejected, Cause: pipeline.CauseBackboneUnavailable, Detail: "backbone: unavailable", Event: ev("EV4", "confirmed")},
		}}
	rc := receipts.Build(receipts.Request{Method: "POST", RequestURI: "/v1/ingest/webhook/x", ReceiveTime: time.Now()}, res, 503, time.Millisecond, "dp-1")
	if rc.GetItemCount() != 5 || len(rc.GetItems()) != 5 || rc.GetItemsTruncated() || rc.GetProviderEventId() != "" || rc.GetUsageEventId() != "" {
		t.Fatalf("receipt %v", rc)
	}
	want := []*plugsv1.ReceiptItem{
		{Index: 0, Outcome: plugsv1.Receipt_OUTCOME_ACCEPTED, EventType: "confirmed", ProviderEventId: "EV0", UsageEventId: "u-EV0"},
		{Index: 1, Outcome: plugsv1.Receipt_OUTCOME_DUPLICATE, EventType: "confirmed", ProviderEventId: "EV1", UsageEventId: "u-EV1"},
		{Index: 2, Outcome: plugsv1.Receipt_OUTCOME_FILTERED, EventType: "failed"},
		{Index: 3, Outcome: plugsv1.Receipt_OUTCOME_REJECTED, Cause: "mapping_failed", Field: "customer_id", Detail: "mapping failed: customer_id: no value at $.links.customer"},
		{Index: 4, Outcome: plugsv1.Receipt_OUTCOME_REJECTED, Cause: "backbone_unavailable", Detail: "backbone: unavailable", EventType: "confirmed", ProviderEventId: "EV4"},
	}
	for i, w := range want {
		if !proto.Equal(rc.GetItems()[i], w) {
			t.Errorf("item %d: %v, want %v", i, rc.GetItems()[i], w)
		}
	}
	// A request that is no batch lists none.
	single := receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
		&pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true, Event: ev("E", "t")}, 200, 0, "dp-1")
	if single.GetItemCount() != 0 || single.GetItems() != nil {
		t.Fatalf("single: %v", single)
	}
}

// A receipt lists as many items as fit beside its body, within the size
// the backbone takes, and says when it left some out; item_count counts
// them all, and long details are cut.
func TestBuildBoundsBatchItems(t *testing.T) {
	src := gitlabSource(t)
	items := make([]pipeline.Item, 10000)
	for i := range items {
		items[i] = pipeline.Item{Index: i, Outcome: pipeline.Rejected, Cause: pipeline.CauseMappingFailed, Detail: strings.Repeat("é", 500),
			Event: &plugsv1.UsageEvent{EventId: fmt.Sprintf("evt_%040d", i)}}
	}
	for _, bodySize := range []int{100, receipts.MaxBody} {
		res := &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseMappingFailed, Source: src, Verified: true,
			Body: bytes.Repeat([]byte("x"), bodySize), Batch: true, Items: items}
		rc := receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()}, res, 422, 0, "dp-1")
		size := proto.Size(rc)
		if rc.GetItemCount() != 10000 || !rc.GetItemsTruncated() || len(rc.GetItems()) == 0 || size > receipts.MaxMessage {
			t.Fatalf("body of %d: %d items listed, truncated %v, %d bytes", bodySize, len(rc.GetItems()), rc.GetItemsTruncated(), size)
		}
		if d := rc.GetItems()[0].GetDetail(); len(d) > receipts.MaxItemDetail+len("…") || !strings.HasSuffix(d, "…") || !strings.HasPrefix(d, "éé") {
			t.Fatalf("detail of %d bytes: %q", len(d), d)
		}
		if bodySize == 100 && proto.Size(&plugsv1.Receipt{Items: rc.GetItems()}) > receipts.MaxItems {
			t.Fatalf("items take %d bytes", proto.Size(&plugsv1.Receipt{Items: rc.GetItems()}))
		}
	}
}
