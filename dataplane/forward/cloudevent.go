package forward

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The form of a delivery: a CloudEvents 1.0 event in structured mode.
const (
	// ContentType is the Content-Type of every delivery.
	ContentType = "application/cloudevents+json"
	// EventType is the CloudEvents type of a usage event.
	EventType = "dev.plugs.usage"
)

// encodeCloudEvent returns the body delivered for ev. id is the usage
// event's id (the router's fallback when the event carries none); it is
// also the Standard Webhooks message id, so a receiver deduplicating on
// either sees the same key on every attempt.
//
// The envelope's attributes come in the order the specification lists
// them, which makes bodies easy to read; data is the usage event in the
// protobuf JSON mapping (lowerCamelCase names, unset fields left out,
// RFC 3339 times), compact. It is written by hand: through protojson and
// encoding/json it cost ten times the HMAC that signs it, once per attempt.
// TestCloudEventMatchesProtoJSON holds it to what those libraries write.
func encodeCloudEvent(ev *plugsv1.UsageEvent, id string) ([]byte, error) {
	b := make([]byte, 0, 512+32*len(ev.GetProperties()))
	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, id)
	b = append(b, `,"source":`...)
	b = appendString(b, "/plugs/sources/"+ev.GetSourceId())
	b = append(b, `,"type":"`+EventType+`"`...)
	if s := ev.GetCustomerId(); s != "" {
		b = append(b, `,"subject":`...)
		b = appendString(b, s)
	}
	if t := ev.GetEventTime(); t != nil && t.IsValid() {
		b = append(b, `,"time":"`...)
		b = t.AsTime().UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b, err := appendUsageEvent(b, ev)
	if err != nil {
		return nil, fmt.Errorf("%w: encode event: %w", ErrMalformedDelivery, err)
	}
	return append(b, '}'), nil
}

// appendUsageEvent writes ev in the protobuf JSON mapping. Every field of
// UsageEvent is here: TestCloudEventCoversEveryField fails when one is
// added to the message and not to this function.
func appendUsageEvent(b []byte, ev *plugsv1.UsageEvent) ([]byte, error) {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	for _, f := range [...]struct{ name, v string }{
		{"id", ev.GetId()}, {"tenantId", ev.GetTenantId()}, {"sourceId", ev.GetSourceId()},
		{"metricId", ev.GetMetricId()}, {"eventId", ev.GetEventId()}, {"eventType", ev.GetEventType()},
		{"customerId", ev.GetCustomerId()}, {"quantity", ev.GetQuantity()},
	} {
		if f.v == "" {
			continue
		}
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("field %s: invalid UTF-8", f.name)
		}
		field(f.name)
		b = appendString(b, f.v)
	}
	for _, f := range [...]struct {
		name string
		t    *timestamppb.Timestamp
	}{{"eventTime", ev.GetEventTime()}, {"receiveTime", ev.GetReceiveTime()}} {
		if f.t == nil {
			continue
		}
		if err := f.t.CheckValid(); err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		field(f.name)
		b = appendTimestamp(b, f.t)
	}
	if props := ev.GetProperties(); len(props) > 0 {
		field("properties")
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(props)) {
			if !utf8.ValidString(k) || !utf8.ValidString(props[k]) {
				return nil, fmt.Errorf("property %q: invalid UTF-8", k)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, props[k])
		}
		b = append(b, '}')
	}
	if ev.GetUnverified() {
		field("unverified")
		b = append(b, "true"...)
	}
	if ev.GetTest() {
		field("test")
		b = append(b, "true"...)
	}
	return append(b, '}'), nil
}

// appendTimestamp writes t as the protobuf JSON mapping does: UTC, "Z",
// and 0, 3, 6 or 9 digits of fraction.
func appendTimestamp(b []byte, t *timestamppb.Timestamp) []byte {
	b = append(b, '"')
	b = time.Unix(t.GetSeconds(), 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	if n := t.GetNanos(); n != 0 {
		digits := 9
		for digits > 3 && n%1000 == 0 {
			n /= 1000
			digits -= 3
		}
		b = append(b, '.')
		s := strconv.Itoa(int(n))
		for range digits - len(s) {
			b = append(b, '0')
		}
		b = append(b, s...)
	}
	return append(b, `Z"`...)
}

// appendString writes s as a JSON string, escaped as encoding/json escapes
// it by default: quotes, backslashes and control characters, and <, >, &,
// U+2028 and U+2029 so a body pasted into HTML or JavaScript stays inert.
// s is valid UTF-8 (checked by the callers that take it from the event).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
