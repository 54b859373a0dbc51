package mapping

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func path(p string, required bool) *plugsv1.ValueRef {
	return &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: p}, Required: required}
}

func header(h string, required bool) *plugsv1.ValueRef {
	return &plugsv1.ValueRef{From: &plugsv1.ValueRef_Header{Header: h}, Required: required}
}

const stripeBody = `{"id":"evt_1","type":"invoice.paid","created":1686089970,"livemode":true,
 "data":{"object":{"customer":"cus_9","lines":[{"quantity":"12.50"}],"plan":{"id":"pro","tiers":[1,2]}}}}`

func stripeMappings() *plugsv1.FieldMappings {
	return &plugsv1.FieldMappings{
		EventId:    path("$.id", true),
		EventType:  path("$.type", true),
		CustomerId: path("$.data.object.customer", false),
		Quantity:   path("$.data.object.lines[0].quantity", false),
		Timestamp:  path("$.created", false),
		Properties: map[string]*plugsv1.ValueRef{
			"plan":   path("$.data.object.plan", false),
			"region": {From: &plugsv1.ValueRef_Constant{Constant: "eu"}},
			"who":    header("X-Who", false),
		},
	}
}

func TestMapStripeLike(t *testing.T) {
	m, err := Compile(stripeMappings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &plugsv1.UsageEvent{}
	in := Input{Body: payload.New([]byte(stripeBody), "application/json"), Header: http.Header{"X-Who": {"me"}}, ReceiveTime: time.Unix(1, 0)}
	if _, err := m.Map(in, ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventId != "evt_1" || ev.EventType != "invoice.paid" || ev.CustomerId != "cus_9" || ev.Quantity != "12.50" {
		t.Fatalf("got %v", ev)
	}
	if got := ev.EventTime.AsTime(); !got.Equal(time.Unix(1686089970, 0)) {
		t.Fatalf("event time %v", got)
	}
	want := map[string]string{"plan": `{"id":"pro","tiers":[1,2]}`, "region": "eu", "who": "me"}
	for k, v := range want {
		if ev.Properties[k] != v {
			t.Errorf("properties.%s = %q, want %q", k, ev.Properties[k], v)
		}
	}
}

func TestRequiredFieldFailsNamingIt(t *testing.T) {
	m, err := Compile(stripeMappings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Map(Input{Body: payload.New([]byte(`{"type":"invoice.paid"}`), "")}, &plugsv1.UsageEvent{})
	var me *Error
	if !errors.As(err, &me) || !errors.Is(err, ErrMappingFailed) || me.Field() != "event_id" {
		t.Fatalf("got %v", err)
	}
}

func TestUnparsableBody(t *testing.T) {
	m, _ := Compile(stripeMappings(), nil)
	_, err := m.Map(Input{Body: payload.New([]byte(`{"id":`), "application/json")}, &plugsv1.UsageEvent{})
	if !errors.Is(err, payload.ErrUnparsable) {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultsAndInvalidValues(t *testing.T) {
	m, _ := Compile(stripeMappings(), nil)
	ev := &plugsv1.UsageEvent{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if warnings, err := m.Map(Input{Body: payload.New([]byte(`{"id":7,"type":"x"}`), ""), ReceiveTime: now}, ev); err != nil || warnings != nil {
		t.Fatal(warnings, err)
	}
	if ev.Quantity != "1" || !ev.EventTime.AsTime().Equal(now) || ev.EventId != "7" {
		t.Fatalf("defaults: %v", ev)
	}

	// Invalid optional values are left empty and reported; the event is
	// still mapped.
	ev = &plugsv1.UsageEvent{}
	bad := `{"id":"a","type":"x","data":{"object":{"customer":{"id":"c"},"lines":[{"quantity":"ten"}]}},"created":"yesterday"}`
	warnings, err := m.Map(Input{Body: payload.New([]byte(bad), ""), ReceiveTime: now}, ev)
	if err != nil {
		t.Fatalf("optional fields failed the mapping: %v", err)
	}
	var names []string
	for _, w := range warnings {
		if w.Required {
			t.Errorf("optional field %s reported as required", w.Field)
		}
		names = append(names, w.Field)
	}
	if !slices.Equal(names, []string{"customer_id", "quantity", "timestamp"}) {
		t.Fatalf("warnings %v", warnings)
	}
	if ev.EventId != "a" || ev.CustomerId != "" || ev.Quantity != "" || ev.EventTime != nil {
		t.Fatalf("invalid optional values not left empty: %v", ev)
	}
	if w := Warning(warnings); !strings.HasPrefix(w, "optional fields left empty: customer_id: not a string or number; quantity: ") ||
		strings.Contains(w, "required") {
		t.Fatalf("warning %q", w)
	}

	// The same values in required fields fail it, each named.
	strict := stripeMappings()
	strict.Quantity.Required, strict.Timestamp.Required = true, true
	m, _ = Compile(strict, nil)
	_, err = m.Map(Input{Body: payload.New([]byte(bad), "")}, &plugsv1.UsageEvent{})
	var me *Error
	if !errors.As(err, &me) || len(me.Fields) != 2 || me.Fields[0].Field != "quantity" || me.Fields[1].Field != "timestamp" || !me.Fields[0].Required {
		t.Fatalf("got %v", err)
	}
}

func TestFormBodyAndHeaders(t *testing.T) {
	m, err := Compile(&plugsv1.FieldMappings{
		EventId:   header("I-Twilio-Idempotency-Token", true),
		EventType: path("$.MessageStatus", true),
		Quantity:  path("$.NumSegments", false),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &plugsv1.UsageEvent{}
	in := Input{
		Body:   payload.New([]byte("MessageStatus=delivered&NumSegments=3"), "application/x-www-form-urlencoded"),
		Header: http.Header{"I-Twilio-Idempotency-Token": {"tok-1"}},
	}
	if _, err := m.Map(in, ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventId != "tok-1" || ev.EventType != "delivered" || ev.Quantity != "3" {
		t.Fatalf("got %v", ev)
	}
}

func TestFilter(t *testing.T) {
	cases := []struct {
		filter *plugsv1.EventFilter
		body   string
		kept   bool
	}{
		{nil, stripeBody, true},
		{&plugsv1.EventFilter{EventTypes: []string{"invoice.paid"}}, stripeBody, true},
		{&plugsv1.EventFilter{EventTypes: []string{"invoice.created"}}, stripeBody, false},
		{&plugsv1.EventFilter{EventTypes: []string{"customer.*", "invoice.*"}}, stripeBody, true},
		{&plugsv1.EventFilter{EventTypes: []string{"invoice.paid.*"}}, stripeBody, false},
		{&plugsv1.EventFilter{EventTypes: []string{"*"}}, stripeBody, true},
		{&plugsv1.EventFilter{Expression: "$[?(@.livemode == true)]"}, stripeBody, true},
		{&plugsv1.EventFilter{Expression: "$[?(@.livemode == false)]"}, stripeBody, false},
		{&plugsv1.EventFilter{EventTypes: []string{"invoice.*"}, Expression: "$[?(@.data.object.customer == 'cus_9')]"}, stripeBody, true},
	}
	for i, c := range cases {
		m, err := Compile(stripeMappings(), c.filter)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Map(Input{Body: payload.New([]byte(c.body), "")}, &plugsv1.UsageEvent{})
		if kept := err == nil; kept != c.kept {
			t.Errorf("case %d: kept=%v want %v (%v)", i, kept, c.kept, err)
		}
		if !c.kept && !errors.Is(err, ErrFiltered) {
			t.Errorf("case %d: %v, want ErrFiltered", i, err)
		}
	}
	if _, err := Compile(nil, &plugsv1.EventFilter{EventTypes: []string{"in*voice"}}); !errors.Is(err, ErrInvalidMapping) {
		t.Errorf("bad wildcard: %v", err)
	}
}

func TestPreviewReportsEveryField(t *testing.T) {
	m, _ := Compile(stripeMappings(), nil)
	ev := &plugsv1.UsageEvent{}
	filtered, fields, err := m.Preview(Input{Body: payload.New([]byte(`{"type":"invoice.paid","data":{"object":{"customer":"c"}}}`), "")}, ev)
	if filtered || !errors.Is(err, ErrMappingFailed) {
		t.Fatalf("filtered=%v err=%v", filtered, err)
	}
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Field] = f.Required
	}
	if req, ok := names["event_id"]; !ok || !req {
		t.Errorf("event_id missing from %v", fields)
	}
	if req, ok := names["quantity"]; !ok || req {
		t.Errorf("optional quantity not reported: %v", fields)
	}
	if ev.CustomerId != "c" {
		t.Errorf("fields that mapped are filled: %v", ev)
	}
}

func TestDecimal(t *testing.T) {
	ok := map[string]string{"1": "1", "12.50": "12.50", "-3": "-3", "+4": "4", " 5 ": "5", "1e3": "1000", "1.5E2": "150", "25e-2": "0.25", "0": "0", "0.000": "0.000"}
	for in, want := range ok {
		got, err := Decimal(in)
		if err != nil || got != want {
			t.Errorf("Decimal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ten", "1.", ".5", "1e", "1e999999", "NaN", "Infinity", "0x10", "1,5", "--1"} {
		if got, err := Decimal(in); err == nil {
			t.Errorf("Decimal(%q) = %q, want an error", in, got)
		}
	}
}

func TestTime(t *testing.T) {
	want := time.Date(2023, 6, 6, 22, 19, 30, 0, time.UTC)
	for _, v := range []payload.Value{
		payload.StringValue("2023-06-06T22:19:30Z"),
		payload.StringValue("2023-06-07T00:19:30+02:00"),
		payload.StringValue("1686089970"),
		payload.StringValue("1686089970000"),
	} {
		got, err := Time(v)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Time(%q) = %v, %v", v.Text(), got, err)
		}
	}
	got, err := Time(payload.StringValue("1529006854.329574"))
	if err != nil || got.UnixMicro() != 1529006854329574 {
		t.Errorf("fractional seconds: %v %v", got, err)
	}
	if _, err := Time(payload.StringValue("last tuesday")); err == nil {
		t.Error("want an error")
	}
}

// A value that is not UTF-8, from a header or the body, fails the mapping
// naming its field when the field is required, and is left out with a
// warning naming it when it is optional: an event's strings must be UTF-8,
// and repairing the bytes would change the value.
func TestValueNotUTF8FailsNamingIt(t *testing.T) {
	m, err := Compile(stripeMappings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body, who, field string
		required               bool
	}{
		{"header property", stripeBody, "caf\xe9", "properties.who", false},
		{"customer in the body", `{"id":"evt_1","type":"invoice.paid","data":{"object":{"customer":"cus_` + "\xff" + `"}}}`, "me", "customer_id", false},
		{"event id in the body", `{"id":"evt_` + "\xc3" + `","type":"invoice.paid"}`, "me", "event_id", true},
		{"event type in the body", `{"id":"evt_1","type":"invoice.` + "\xfe" + `"}`, "me", "event_type", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := &plugsv1.UsageEvent{}
			warnings, err := m.Map(Input{Body: payload.New([]byte(c.body), "application/json"), Header: http.Header{"X-Who": {c.who}}}, ev)
			if !c.required {
				if err != nil || len(warnings) != 1 || warnings[0].Field != c.field || warnings[0].Description != "not valid UTF-8" {
					t.Fatalf("got %v, warnings %v; want %s left out with a warning", err, warnings, c.field)
				}
				if (c.field == "customer_id" && ev.GetCustomerId() != "") || (c.field == "properties.who" && ev.GetProperties()["who"] != "") {
					t.Fatalf("invalid value kept: %v", ev)
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) || me.Field() != c.field || me.Fields[0].Description != "not valid UTF-8" {
				t.Fatalf("got %v, want %s failing", err, c.field)
			}
		})
	}
}
