package consumer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/consumer"
)

// forwardedJSON is a forwarded event written out by hand from the
// documented format, so the parser is checked against the contract rather
// than against the tests' own encoder. Its data carries a field and the
// envelope an extension attribute this version does not know, as a newer
// sender's would.
const forwardedJSON = `{
  "specversion": "1.0",
  "id": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",
  "source": "/plugs/sources/7d9c2b1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
  "type": "dev.plugs.usage",
  "subject": "cus_42",
  "time": "2025-12-31T23:59:00Z",
  "datacontenttype": "application/json",
  "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  "data": {
    "id": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",
    "tenantId": "tenant-1",
    "sourceId": "7d9c2b1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "metricId": "api-calls",
    "eventId": "evt_123",
    "eventType": "invoice.paid",
    "customerId": "cus_42",
    "quantity": "12.5",
    "eventTime": "2025-12-31T23:59:00Z",
    "receiveTime": "2025-12-31T23:59:30Z",
    "properties": {"plan": "pro"},
    "someFieldFromTheFuture": {"nested": [1, 2, 3]}
  }
}`

func TestVerifyDecodesEvent(t *testing.T) {
	body := []byte(forwardedJSON)
	v := &consumer.Verifier{Key: testKey, Now: fixedClock(testNow)}
	ev, err := v.Verify(body, sign(t, consumer.Signer{Key: testKey}, testUsage().GetId(), testNow, body))
	if err != nil {
		t.Fatal(err)
	}
	want := &consumer.Event{
		SpecVersion:     "1.0",
		ID:              "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",
		Source:          "/plugs/sources/7d9c2b1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		Type:            "dev.plugs.usage",
		Subject:         "cus_42",
		Time:            testNow.Add(-time.Minute),
		DataContentType: "application/json",
	}
	if ev.SpecVersion != want.SpecVersion || ev.ID != want.ID || ev.Source != want.Source || ev.Type != want.Type ||
		ev.Subject != want.Subject || !ev.Time.Equal(want.Time) || ev.DataContentType != want.DataContentType {
		t.Errorf("attributes = %+v, want %+v", *ev, *want)
	}
	if !proto.Equal(ev.Usage, testUsage()) {
		t.Errorf("Usage = %v, want %v", ev.Usage, testUsage())
	}
	if len(ev.Usage.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("unknown fields kept: %v", ev.Usage.ProtoReflect().GetUnknown())
	}
}

// TestInvalidEvent checks bodies that verify but are not a forwarded usage
// event.
func TestInvalidEvent(t *testing.T) {
	// replace swaps one piece of the hand-written event.
	replace := func(old, new string) string {
		if !strings.Contains(forwardedJSON, old) {
			t.Fatalf("%q not in the event", old)
		}
		return strings.Replace(forwardedJSON, old, new, 1)
	}
	tests := []struct {
		name string
		body string
		want error // nil: valid
	}{
		{name: "not JSON", body: `{"specversion":`, want: consumer.ErrInvalidEvent},
		{name: "empty", body: ``, want: consumer.ErrInvalidEvent},
		{name: "JSON null", body: `null`, want: consumer.ErrInvalidEvent},
		{name: "JSON array", body: `[]`, want: consumer.ErrInvalidEvent},
		{name: "no specversion", body: replace(`"specversion": "1.0",`, ``), want: consumer.ErrInvalidEvent},
		{name: "specversion 0.3", body: replace(`"specversion": "1.0"`, `"specversion": "0.3"`), want: consumer.ErrInvalidEvent},
		{name: "specversion a number", body: replace(`"specversion": "1.0"`, `"specversion": 1.0`), want: consumer.ErrInvalidEvent},
		{name: "no id", body: replace(`"id": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",`, ``), want: consumer.ErrInvalidEvent},
		{name: "id null", body: replace(`"id": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",`, `"id": null,`), want: consumer.ErrInvalidEvent},
		{name: "upper-case attribute name", body: replace(`"id": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",`, `"ID": "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",`), want: consumer.ErrInvalidEvent},
		{name: "no source", body: replace(`"source": "/plugs/sources/7d9c2b1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d",`, ``), want: consumer.ErrInvalidEvent},
		{name: "other type", body: replace(`"dev.plugs.usage"`, `"dev.plugs.test"`), want: consumer.ErrInvalidEvent},
		{name: "no subject", body: replace(`"subject": "cus_42",`, ``)},
		{name: "no time", body: replace(`"time": "2025-12-31T23:59:00Z",`, ``)},
		{name: "time with fraction and offset", body: replace(`"time": "2025-12-31T23:59:00Z"`, `"time": "2026-01-01T00:59:00.123456789+01:00"`)},
		{name: "time not RFC 3339", body: replace(`"time": "2025-12-31T23:59:00Z"`, `"time": "31/12/2025"`), want: consumer.ErrInvalidEvent},
		{name: "time a number", body: replace(`"time": "2025-12-31T23:59:00Z"`, `"time": 1767225540`), want: consumer.ErrInvalidEvent},
		{name: "no datacontenttype", body: replace(`"datacontenttype": "application/json",`, ``)},
		{name: "datacontenttype with charset", body: replace(`"application/json"`, `"application/json; charset=utf-8"`)},
		{name: "datacontenttype text", body: replace(`"application/json"`, `"text/plain"`), want: consumer.ErrInvalidEvent},
		{name: "no data", body: `{"specversion":"1.0","id":"x","source":"/s","type":"dev.plugs.usage"}`, want: consumer.ErrInvalidEvent},
		{name: "data null", body: `{"specversion":"1.0","id":"x","source":"/s","type":"dev.plugs.usage","data":null}`, want: consumer.ErrInvalidEvent},
		{name: "data_base64 instead of data", body: `{"specversion":"1.0","id":"x","source":"/s","type":"dev.plugs.usage","data_base64":"e30="}`, want: consumer.ErrInvalidEvent},
		{name: "data a string", body: `{"specversion":"1.0","id":"x","source":"/s","type":"dev.plugs.usage","data":"{}"}`, want: consumer.ErrInvalidEvent},
		{name: "data empty object", body: `{"specversion":"1.0","id":"x","source":"/s","type":"dev.plugs.usage","data":{}}`},
		{name: "quantity a number", body: replace(`"quantity": "12.5"`, `"quantity": 12.5`), want: consumer.ErrInvalidEvent},
		{name: "eventTime not a timestamp", body: replace(`"eventTime": "2025-12-31T23:59:00Z"`, `"eventTime": "yesterday"`), want: consumer.ErrInvalidEvent},
		{name: "proto field names accepted", body: replace(`"customerId"`, `"customer_id"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			v := &consumer.Verifier{Key: testKey, Now: fixedClock(testNow)}
			h := sign(t, consumer.Signer{Key: testKey}, "msg", testNow, body)
			if err := v.VerifySignature(body, h); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			ev, err := v.Verify(body, h)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.want)
			}
			if err == nil && ev.Usage == nil {
				t.Error("Usage is nil")
			}
		})
	}
}
