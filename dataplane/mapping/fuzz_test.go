package mapping

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// FuzzMap runs random bodies through a mapping with every kind of field,
// a type filter and a filter expression: it must never panic, and must
// fail only in the documented ways.
func FuzzMap(f *testing.F) {
	for _, seed := range []string{
		stripeBody, `{}`, `{"id":"x","type":"invoice.paid","created":"2023-06-06T22:19:30Z"}`,
		`{"id":{"a":1},"type":"invoice.x","data":{"object":{"lines":[{"quantity":"1e40"}]}}}`,
		`{"id":"1","type":"invoice.paid","created":1e300}`, `[1,2,3]`, `{"id":`, `null`,
		`{"id":"1","type":"invoice.paid","data":{"object":{"lines":[{"quantity":-0.000001}]}},"livemode":true}`,
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("MessageStatus=delivered&id=1&type=invoice.paid"), true)
	m, err := Compile(stripeMappings(), &plugsv1.EventFilter{EventTypes: []string{"invoice.*"}, Expression: "$[?(@.livemode == true)]"})
	if err != nil {
		f.Fatal(err)
	}
	plain, err := Compile(stripeMappings(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, form bool) {
		ct := "application/json"
		if form {
			ct = "application/x-www-form-urlencoded"
		}
		for _, mp := range []*Mapper{m, plain} {
			ev := &plugsv1.UsageEvent{}
			warnings, err := mp.Map(Input{Body: payload.New(body, ct), Header: http.Header{"X-Who": {"f"}}, ReceiveTime: time.Unix(0, 0)}, ev)
			var me *Error
			switch {
			case err == nil:
				if ev.GetEventId() == "" || ev.GetEventType() == "" {
					t.Fatalf("required fields empty in %v", ev)
				}
				if _, derr := Decimal(ev.GetQuantity()); derr != nil && !hasField(warnings, "quantity") {
					t.Fatalf("quantity %q is not a decimal", ev.GetQuantity())
				}
				for _, w := range warnings {
					if w.Required || w.Field == "" {
						t.Fatalf("warning %+v", w)
					}
				}
			case errors.Is(err, payload.ErrUnparsable), errors.Is(err, ErrFiltered):
			case errors.As(err, &me):
				if len(me.Fields) == 0 || me.Field() == "" {
					t.Fatalf("mapping error without a field: %v", err)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
