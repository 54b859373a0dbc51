package consumer_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/consumer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// testNow is the fixed clock of the tests; nothing here reads the wall clock
// except the checks against the Standard Webhooks library, whose verifier
// does.
var testNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

// testKey is a Standard Webhooks style key: "whsec_" and base64.
const testKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// testUsage is the usage event the tests forward.
func testUsage() *plugsv1.UsageEvent {
	return &plugsv1.UsageEvent{
		Id:          "0b6f1f0e-3c55-4b38-9a0e-3f1d7c2a9e11",
		TenantId:    "tenant-1",
		SourceId:    "7d9c2b1a-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		MetricId:    "api-calls",
		EventId:     "evt_123",
		EventType:   "invoice.paid",
		CustomerId:  "cus_42",
		Quantity:    "12.5",
		EventTime:   timestamppb.New(testNow.Add(-time.Minute)),
		ReceiveTime: timestamppb.New(testNow.Add(-30 * time.Second)),
		Properties:  map[string]string{"plan": "pro"},
	}
}

// eventBody is the body the forwarder sends for u: a CloudEvents 1.0
// structured-mode document whose data is u as protojson.Marshal writes it.
func eventBody(t testing.TB, u *plugsv1.UsageEvent) []byte {
	t.Helper()
	data, err := protojson.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil,
		`{"specversion":"1.0","id":%q,"source":"/plugs/sources/%s","type":"dev.plugs.usage","subject":%q,"time":%q,"datacontenttype":"application/json","data":%s}`,
		u.GetId(), u.GetSourceId(), u.GetCustomerId(), u.GetEventTime().AsTime().Format(time.RFC3339Nano), data)
}

// sign signs body with s or fails the test.
func sign(t testing.TB, s consumer.Signer, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h, err := s.Sign(id, ts, body)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return h
}

// with returns a copy of h with name set to value, or removed when value is
// empty.
func with(h http.Header, name, value string) http.Header {
	c := h.Clone()
	if value == "" {
		c.Del(name)
	} else {
		c.Set(name, value)
	}
	return c
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
