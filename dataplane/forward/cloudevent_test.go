package forward

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func TestCloudEvent(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ev := &plugsv1.UsageEvent{
		Id: "u-1", TenantId: "t", SourceId: "src", EventId: "evt_1", CustomerId: "cus_9",
		Quantity: "12.5", EventTime: timestamppb.New(at), Properties: map[string]string{"plan": "pro"},
	}
	body, err := encodeCloudEvent(ev, "u-1")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"specversion": "1.0", "id": "u-1", "source": "/plugs/sources/src", "type": "dev.plugs.usage",
		"subject": "cus_9", "time": "2026-03-04T05:06:07Z", "datacontenttype": "application/json",
	}
	for k, v := range want {
		var s string
		if err := json.Unmarshal(got[k], &s); err != nil || s != v {
			t.Errorf("%s = %s, want %q", k, got[k], v)
		}
	}
	back := &plugsv1.UsageEvent{}
	if err := protojson.Unmarshal(got["data"], back); err != nil || !proto.Equal(back, ev) {
		t.Fatalf("data %s: %v", got["data"], err)
	}

	// No customer, no event time: no subject, no time.
	body, _ = encodeCloudEvent(&plugsv1.UsageEvent{Id: "u-2", SourceId: "src"}, "u-2")
	got = nil
	_ = json.Unmarshal(body, &got)
	if _, ok := got["subject"]; ok {
		t.Errorf("subject in %s", body)
	}
	if _, ok := got["time"]; ok {
		t.Errorf("time in %s", body)
	}
}
