package mapping

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const goCardlessBody = `{"events":[
 {"id":"EV1","action":"confirmed","links":{"customer":"CU1"},"created_at":"2026-03-02T10:29:58.000Z"},
 {"id":"EV2","action":"failed","links":{"customer":"CU2"}},
 {"id":"EV3","action":"confirmed","links":{}}
],"meta":{"webhook_id":"WB1"}}`

func goCardlessMappings() *plugsv1.FieldMappings {
	return &plugsv1.FieldMappings{
		Batch:      &plugsv1.Batch{ItemsPath: "$.events[*]"},
		EventId:    path("$.id", true),
		EventType:  path("$.action", true),
		CustomerId: path("$.links.customer", true),
		Timestamp:  path("$.created_at", false),
		Quantity:   path("$$.meta.count", false),
		Properties: map[string]*plugsv1.ValueRef{"webhook_id": path("$$.meta.webhook_id", false)},
	}
}

func TestBatchMapsEachItem(t *testing.T) {
	m, err := Compile(goCardlessMappings(), &plugsv1.EventFilter{EventTypes: []string{"confirmed"}})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Batch() || m.MaxItems() != DefaultMaxItems {
		t.Fatalf("Batch %v, MaxItems %d", m.Batch(), m.MaxItems())
	}
	in := Input{Body: payload.New([]byte(goCardlessBody), "application/json"), Header: http.Header{}, ReceiveTime: time.Unix(1, 0)}
	items, err := m.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Items) != 3 {
		t.Fatalf("%d items", len(items.Items))
	}
	ev := &plugsv1.UsageEvent{}
	if _, err := m.MapItem(items, 0, in, ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventId != "EV1" || ev.EventType != "confirmed" || ev.CustomerId != "CU1" || ev.Properties["webhook_id"] != "WB1" ||
		!ev.EventTime.AsTime().Equal(time.Date(2026, 3, 2, 10, 29, 58, 0, time.UTC)) {
		t.Fatalf("item 0: %v", ev)
	}
	// The filter applies to each item.
	if _, err := m.MapItem(items, 1, in, &plugsv1.UsageEvent{}); !errors.Is(err, ErrFiltered) {
		t.Fatalf("item 1: got %v, want ErrFiltered", err)
	}
	// A required field fails its item alone.
	var merr *Error
	if _, err := m.MapItem(items, 2, in, &plugsv1.UsageEvent{}); !errors.As(err, &merr) || merr.Field() != "customer_id" {
		t.Fatalf("item 2: got %v, want customer_id failing", err)
	}
	// The preview of an item reports the envelope path it missed.
	_, fields, _ := m.PreviewItem(items, 0, in, &plugsv1.UsageEvent{})
	if len(fields) != 1 || fields[0].Field != "quantity" || fields[0].Description != "no value at $$.meta.count" {
		t.Fatalf("preview fields %+v", fields)
	}
}

func TestBatchNDJSON(t *testing.T) {
	m, err := Compile(&plugsv1.FieldMappings{
		Batch:     &plugsv1.Batch{Format: plugsv1.Batch_FORMAT_NDJSON, MaxItems: 3},
		EventId:   path("$.log_id", true),
		EventType: path("$.data.type", true),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := "{\"log_id\":\"L1\",\"data\":{\"type\":\"s\"}}\n{\"log_id\":\n{\"log_id\":\"L3\",\"data\":{\"type\":\"f\"}}\n"
	in := Input{Body: payload.New([]byte(body), "application/x-ndjson"), ReceiveTime: time.Unix(1, 0)}
	items, err := m.Split(in)
	if err != nil {
		t.Fatal(err)
	}
	ev := &plugsv1.UsageEvent{}
	if _, err := m.MapItem(items, 2, in, ev); err != nil || ev.EventId != "L3" || ev.EventType != "f" {
		t.Fatalf("item 2: %v, %v", ev, err)
	}
	if _, err := m.MapItem(items, 1, in, &plugsv1.UsageEvent{}); !errors.Is(err, payload.ErrUnparsable) {
		t.Fatalf("item 1: got %v, want ErrUnparsable", err)
	}
	in.Body = payload.New([]byte(strings.Repeat("{\"log_id\":\"x\"}\n", 4)), "")
	if _, err := m.Split(in); !errors.Is(err, ErrTooManyItems) || !strings.Contains(err.Error(), "4 items, the limit is 3") {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestBatchSplitRefuses(t *testing.T) {
	m, err := Compile(goCardlessMappings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, contentType string }{
		{`{"events":[1,}`, "application/json"},
		{`events=1`, "application/x-www-form-urlencoded"},
	} {
		if _, err := m.Split(Input{Body: payload.New([]byte(tc.body), tc.contentType)}); !errors.Is(err, payload.ErrUnparsable) {
			t.Errorf("%s: got %v, want ErrUnparsable", tc.body, err)
		}
	}
}

func TestBatchCompileErrors(t *testing.T) {
	for name, m := range map[string]*plugsv1.FieldMappings{
		"no items path":          {Batch: &plugsv1.Batch{}},
		"bad items path":         {Batch: &plugsv1.Batch{ItemsPath: "$..events"}},
		"items path for NDJSON":  {Batch: &plugsv1.Batch{Format: plugsv1.Batch_FORMAT_NDJSON, ItemsPath: "$[*]"}},
		"too many items":         {Batch: &plugsv1.Batch{ItemsPath: "$[*]", MaxItems: MaxMaxItems + 1}},
		"negative limit":         {Batch: &plugsv1.Batch{ItemsPath: "$[*]", MaxItems: -1}},
		"unknown format":         {Batch: &plugsv1.Batch{Format: 9}},
		"envelope id":            {Batch: &plugsv1.Batch{ItemsPath: "$[*]"}, EventId: path("$$.id", true)},
		"header id":              {Batch: &plugsv1.Batch{ItemsPath: "$[*]"}, EventId: header("X-Id", true)},
		"envelope without batch": {EventType: path("$$.type", false)},
		"envelope of NDJSON":     {Batch: &plugsv1.Batch{Format: plugsv1.Batch_FORMAT_NDJSON}, EventType: path("$$.type", false)},
	} {
		if _, err := Compile(m, nil); !errors.Is(err, ErrInvalidMapping) {
			t.Errorf("%s: got %v, want ErrInvalidMapping", name, err)
		}
	}
}
