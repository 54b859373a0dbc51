package forward

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// libraryCloudEvent is the body as protojson and encoding/json write it,
// the reference encodeCloudEvent is held to.
func libraryCloudEvent(ev *plugsv1.UsageEvent, id string) ([]byte, error) {
	data, err := protojson.Marshal(ev)
	if err != nil {
		return nil, err
	}
	ce := struct {
		SpecVersion     string          `json:"specversion"`
		ID              string          `json:"id"`
		Source          string          `json:"source"`
		Type            string          `json:"type"`
		Subject         string          `json:"subject,omitempty"`
		Time            string          `json:"time,omitempty"`
		DataContentType string          `json:"datacontenttype"`
		Data            json.RawMessage `json:"data"`
	}{"1.0", id, "/plugs/sources/" + ev.GetSourceId(), EventType, ev.GetCustomerId(), "", "application/json", data}
	if t := ev.GetEventTime(); t != nil && t.IsValid() {
		ce.Time = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(ce)
}

func fullEvent() *plugsv1.UsageEvent {
	return &plugsv1.UsageEvent{
		Id: "0192d1a0-7c3e-7000-8000-0123456789ab", TenantId: "t-1", SourceId: "s-1", MetricId: "invoices",
		EventId: "evt_1", EventType: "invoice.paid", CustomerId: "cus_<9>&\"x\"", Quantity: "12.5",
		EventTime:   &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 120000000},
		ReceiveTime: &timestamppb.Timestamp{Seconds: 1700000001, Nanos: 123456789},
		Properties:  map[string]string{"plan": "pro", "a\tb": "x\u2028y\u2029z", "nested": `{"k":[1,2]}`, "ctl": "\x00\x01\x1f\b\f\n\r", "é": "ü€𝄞"},
		Unverified:  true, Test: true,
	}
}

func TestCloudEventMatchesProtoJSON(t *testing.T) {
	at := func(s int64, n int32) *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: s, Nanos: n} }
	cases := []*plugsv1.UsageEvent{
		fullEvent(),
		{},
		{Id: "u", SourceId: "src"},
		{Id: "u", EventTime: at(0, 0), ReceiveTime: at(-62135596800, 0)},
		{Id: "u", EventTime: at(253402300799, 999999999), ReceiveTime: at(1, 1000)},
		{Id: "u", EventTime: at(1, 1000000), ReceiveTime: at(1, 100)},
		{Id: "u", Properties: map[string]string{"": ""}},
	}
	for _, ev := range cases {
		got, err := encodeCloudEvent(ev, "id-1")
		if err != nil {
			t.Fatalf("%v: %v", ev, err)
		}
		want, err := libraryCloudEvent(ev, "id-1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encodeCloudEvent:\n got %s\nwant %s", got, want)
		}
	}
}

func TestCloudEventRefusesWhatProtoJSONRefuses(t *testing.T) {
	for name, ev := range map[string]*plugsv1.UsageEvent{
		"invalid UTF-8 field":    {Id: "u", CustomerId: "a\xffb"},
		"invalid UTF-8 key":      {Id: "u", Properties: map[string]string{"\xff": "v"}},
		"invalid UTF-8 value":    {Id: "u", Properties: map[string]string{"k": "\xc3"}},
		"timestamp out of range": {Id: "u", ReceiveTime: &timestamppb.Timestamp{Seconds: 253402300800}},
		"negative nanos":         {Id: "u", EventTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}},
	} {
		if _, err := libraryCloudEvent(ev, "u"); err == nil {
			t.Fatalf("%s: the reference takes it", name)
		}
		if _, err := encodeCloudEvent(ev, "u"); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// TestCloudEventCoversEveryField fails when UsageEvent gains a field the
// hand-written encoder does not write.
func TestCloudEventCoversEveryField(t *testing.T) {
	ev := fullEvent()
	m := ev.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); !m.Has(f) {
			t.Fatalf("fullEvent leaves %s unset: set it, and write it in appendUsageEvent", f.Name())
		}
	}
	body, err := encodeCloudEvent(ev, ev.GetId())
	if err != nil {
		t.Fatal(err)
	}
	var ce struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil {
		t.Fatal(err)
	}
	back := &plugsv1.UsageEvent{}
	if err := protojson.Unmarshal(ce.Data, back); err != nil {
		t.Fatal(err)
	}
	for i := range fields.Len() {
		if f := fields.Get(i); !back.ProtoReflect().Has(f) {
			t.Errorf("%s is not in the encoded event", f.Name())
		}
	}
}

func FuzzCloudEventMatchesProtoJSON(f *testing.F) {
	f.Add("cus_1", "k", "v", int64(1700000000), int32(5), "evt")
	f.Add("<&>", "\u2028", "\x00", int64(0), int32(999999999), "\xff")
	f.Fuzz(func(t *testing.T, customer, key, value string, secs int64, nanos int32, eventID string) {
		ev := &plugsv1.UsageEvent{Id: "u", SourceId: "s", CustomerId: customer, EventId: eventID,
			EventTime: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}, Properties: map[string]string{key: value}}
		want, werr := libraryCloudEvent(ev, "u")
		got, gerr := encodeCloudEvent(ev, "u")
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("reference error %v, encoder error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
