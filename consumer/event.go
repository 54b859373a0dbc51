package consumer

import (
	"encoding/json"
	"fmt"
	"mime"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// CloudEvents attribute values Plugs sends.
const (
	// SpecVersion is the CloudEvents version of a forwarded event.
	SpecVersion = "1.0"
	// EventType is the CloudEvents type of a forwarded usage event.
	EventType = "dev.plugs.usage"
)

// Event is a forwarded usage event: the CloudEvents attributes Plugs sets
// and the usage event itself.
type Event struct {
	// SpecVersion is the CloudEvents version, always SpecVersion.
	SpecVersion string
	// ID is the usage event's id, the same as Usage.Id and, under Standard
	// Webhooks, the webhook-id header. A redelivery carries the same ID:
	// deduplicate on it.
	ID string
	// Source is "/plugs/sources/" and the id of the source the webhook
	// arrived on.
	Source string
	// Type is always EventType.
	Type string
	// Subject is the customer the usage is billed to (Usage.CustomerId).
	Subject string
	// Time is when the usage happened; zero if the event carries no time.
	Time time.Time
	// DataContentType is as sent: "application/json", or empty, which
	// CloudEvents reads as JSON too.
	DataContentType string
	// Usage is the usage event. Fields a newer sender adds are dropped, so
	// an older receiver keeps working. Usage.Unverified is set when the
	// webhook behind it was not verified (a `plugs dev` bypass), and
	// Usage.Test when it came from a test event rather than the provider:
	// no production pipeline should bill either.
	Usage *plugsv1.UsageEvent
}

// protojsonIn discards unknown fields so that a field added to UsageEvent
// on the sending side does not break receivers built before it.
var protojsonIn = protojson.UnmarshalOptions{DiscardUnknown: true}

// parseEvent decodes a CloudEvents 1.0 structured-mode JSON document of type
// EventType. Attribute names are matched exactly, as CloudEvents defines
// them; extension attributes are ignored.
func parseEvent(body []byte) (*Event, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(body, &attrs); err != nil || attrs == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidEvent)
	}
	ev := &Event{}
	for _, a := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"specversion", &ev.SpecVersion, true},
		{"id", &ev.ID, true},
		{"source", &ev.Source, true},
		{"type", &ev.Type, true},
		{"subject", &ev.Subject, false},
		{"datacontenttype", &ev.DataContentType, false},
	} {
		// A JSON null leaves the string empty: CloudEvents reads null as
		// absent.
		if raw, ok := attrs[a.name]; ok {
			if err := json.Unmarshal(raw, a.dst); err != nil {
				return nil, fmt.Errorf("%w: attribute %s is not a string", ErrInvalidEvent, a.name)
			}
		}
		if a.required && *a.dst == "" {
			return nil, fmt.Errorf("%w: no attribute %s", ErrInvalidEvent, a.name)
		}
	}
	if ev.SpecVersion != SpecVersion {
		return nil, fmt.Errorf("%w: specversion %q, want %q", ErrInvalidEvent, ev.SpecVersion, SpecVersion)
	}
	if ev.Type != EventType {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrInvalidEvent, ev.Type, EventType)
	}
	if ev.DataContentType != "" {
		if mt, _, err := mime.ParseMediaType(ev.DataContentType); err != nil || mt != "application/json" {
			return nil, fmt.Errorf("%w: datacontenttype %q, want application/json", ErrInvalidEvent, ev.DataContentType)
		}
	}

	var when string
	if raw, ok := attrs["time"]; ok {
		if err := json.Unmarshal(raw, &when); err != nil {
			return nil, fmt.Errorf("%w: attribute time is not a string", ErrInvalidEvent)
		}
	}
	if when != "" {
		t, err := time.Parse(time.RFC3339Nano, when)
		if err != nil {
			return nil, fmt.Errorf("%w: time %q is not RFC 3339", ErrInvalidEvent, when)
		}
		ev.Time = t
	}

	data, ok := attrs["data"]
	if !ok || string(data) == "null" {
		return nil, fmt.Errorf("%w: no data", ErrInvalidEvent)
	}
	usage := &plugsv1.UsageEvent{}
	if err := protojsonIn.Unmarshal(data, usage); err != nil {
		return nil, fmt.Errorf("%w: data is not a UsageEvent: %w", ErrInvalidEvent, err)
	}
	ev.Usage = usage
	return ev, nil
}
