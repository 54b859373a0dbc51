// Package sample makes the webhook a provider would send to a source: the
// template's sample payload (or a given body) carrying a fresh provider
// event id, signed with the source's secret exactly as the provider signs.
// `plugs sign` prints it as a curl command; the control plane's test events
// send it through the real ingest endpoint.
package sample

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Spec is what to sign.
type Spec struct {
	// Template gives the sample payload and its content type.
	Template *plugsv1.Template
	// Scheme and Mappings are the source's; nil means the template's.
	Scheme   *plugsv1.SignatureScheme
	Mappings *plugsv1.FieldMappings
	// Filter is the source's event filter. An event type carried in a
	// header (GitHub's X-GitHub-Event) is chosen to pass it.
	Filter *plugsv1.EventFilter
	// Secret is the signing secret as configured on the source.
	Secret string
	// URL is the source's webhook URL as the provider calls it; schemes
	// that sign the URL sign this one.
	URL string
	// Body, when set, is sent instead of the sample payload, with whatever
	// event id it holds.
	Body []byte
	// Header holds extra headers. A header set here is sent as is, an
	// event id or type header included.
	Header http.Header
}

// Webhook is a signed request ready to send.
type Webhook struct {
	URL    string
	Header http.Header
	Body   []byte
	// EventID is the provider event id the request carries, as the
	// mappings read it; empty when they find none.
	EventID string
}

// Sign makes the webhook of spec, signed at now. A sample payload gets a
// fresh event id (evt_test_…) where the mappings read it, in the body or in
// a header, so sending it again is not a duplicate.
func Sign(spec Spec, now time.Time) (*Webhook, error) {
	scheme, mappings := spec.Scheme, spec.Mappings
	if scheme == nil {
		scheme = spec.Template.GetSignatureScheme()
	}
	if mappings == nil {
		mappings = spec.Template.GetFieldMappings()
	}
	switch scheme.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, plugsv1.SignatureScheme_ALGORITHM_JWT:
		// Signed with the provider's private key, which no source holds:
		// said before anything is done to a body that may be a token.
		return nil, fmt.Errorf("%w: %s requests are signed with the provider's private key", verify.ErrCannotSign, scheme.GetAlgorithm())
	}
	contentType := spec.Template.GetSampleContentType()
	if contentType == "" {
		contentType = "application/json"
	}
	header := spec.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	body := spec.Body
	if body == nil {
		body = []byte(strings.TrimSpace(spec.Template.GetSamplePayload()))
		if len(body) == 0 {
			return nil, ErrNoSample
		}
		if path := mappings.GetEventId().GetJsonPath(); path != "" {
			var err error
			if mappings.GetBatch() != nil {
				body, err = setItemIDs(body, mappings.GetBatch(), path, now)
			} else {
				body, err = setEventID(body, contentType, path, now)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if name := mappings.GetEventId().GetHeader(); name != "" && header.Get(name) == "" {
		header.Set(name, freshID())
	}
	if name := mappings.GetEventType().GetHeader(); name != "" && header.Get(name) == "" {
		header.Set(name, eventType(spec.Filter))
	}
	signed, err := verify.Sign(scheme, spec.Secret, verify.Message{
		Method: http.MethodPost, URL: spec.URL, ContentType: contentType, Header: header, Body: body,
	}, now)
	if err != nil {
		return nil, err
	}
	return &Webhook{URL: signed.URL, Header: signed.Header, Body: signed.Body, EventID: eventID(mappings, signed, now)}, nil
}

// eventID reads the event id the way the data plane will, with the data
// plane's own mapping code: of a batch, the first item's.
func eventID(m *plugsv1.FieldMappings, s *verify.Signed, now time.Time) string {
	mp, err := mapping.Compile(&plugsv1.FieldMappings{EventId: m.GetEventId(), Batch: m.GetBatch()}, nil)
	if err != nil {
		return ""
	}
	ev := &plugsv1.UsageEvent{}
	in := mapping.Input{Body: payload.New(s.Body, s.Header.Get("Content-Type")), Header: s.Header, ReceiveTime: now}
	if !mp.Batch() {
		_, _, _ = mp.Preview(in, ev)
		return ev.GetEventId()
	}
	items, err := mp.Split(in)
	if err != nil || len(items.Items) == 0 {
		return ""
	}
	_, _, _ = mp.PreviewItem(items, 0, in, ev)
	return ev.GetEventId()
}

// setEventID writes a fresh event id at the JSONPath of a JSON body, in the
// shape of the sample's: a number for a number, a time for a time (Calendly
// has no event id and uses the creation time), evt_test_… otherwise. In a
// form body it sets the field a one-step path ($.Field) names.
func setEventID(body []byte, contentType, path string, now time.Time) ([]byte, error) {
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
	}
	if payload.IsForm(contentType) {
		form, err := url.ParseQuery(string(body))
		name, ok := formField(x)
		if err != nil || !ok {
			return nil, fmt.Errorf("%w: %s is not a field of the form body", ErrEventID, path)
		}
		form.Set(name, freshID())
		return []byte(form.Encode()), nil
	}
	data, err := oj.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: the sample payload is not JSON: %w", ErrEventID, err)
	}
	id := freshIDLike(x.First(data), now)
	if err := x.Set(data, id); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
	}
	return []byte(oj.JSON(data)), nil
}

// freshIDLike is a fresh event id in the shape of old: a number for a
// number, a time for a time, evt_test_… otherwise.
func freshIDLike(old any, now time.Time) any {
	switch v := old.(type) {
	case int64, float64:
		// Below 2^53, so JavaScript readers keep every digit.
		return rand.Int64N(1 << 53)
	case string:
		if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return now.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		}
	}
	return freshID()
}

// formField is the field a path of one child step names.
func formField(x jp.Expr) (string, bool) {
	if len(x) != 2 {
		return "", false
	}
	if _, ok := x[0].(jp.Root); !ok {
		return "", false
	}
	name, ok := x[1].(jp.Child)
	return string(name), ok
}

// eventType is an event type the filter keeps: its first exact type, or a
// type under its first "prefix.*" wildcard; "test" when it keeps all.
func eventType(f *plugsv1.EventFilter) string {
	for _, t := range f.GetEventTypes() {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			return prefix + "test"
		}
		return t
	}
	return "test"
}

// freshID is a provider event id no real provider sends.
func freshID() string {
	return fmt.Sprintf("evt_test_%016x", rand.Uint64())
}
