package forward

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The form of a delivery: a CloudEvents 1.0 event in structured mode.
const (
	// ContentType is the Content-Type of every delivery.
	ContentType = "application/cloudevents+json"
	// EventType is the CloudEvents type of a usage event.
	EventType = "dev.plugs.usage"
)

// cloudEvent is the structured-mode envelope. Field order is the order the
// specification lists the attributes in, which makes bodies easy to read.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// encodeCloudEvent returns the body delivered for ev. id is the usage
// event's id (the router's fallback when the event carries none); it is
// also the Standard Webhooks message id, so a receiver deduplicating on
// either sees the same key on every attempt.
func encodeCloudEvent(ev *plugsv1.UsageEvent, id string) ([]byte, error) {
	data, err := protojson.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("%w: encode event: %w", ErrMalformedDelivery, err)
	}
	ce := cloudEvent{
		SpecVersion:     "1.0",
		ID:              id,
		Source:          "/plugs/sources/" + ev.GetSourceId(),
		Type:            EventType,
		Subject:         ev.GetCustomerId(),
		DataContentType: "application/json",
		// encoding/json compacts a RawMessage, which removes the random
		// spaces protojson adds to discourage byte comparisons.
		Data: data,
	}
	if t := ev.GetEventTime(); t != nil && t.IsValid() {
		ce.Time = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(ce)
}
