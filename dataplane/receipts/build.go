package receipts

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/pipeline"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MaxBody is the most of a body a receipt keeps: NATS refuses messages over
// 1 MiB by default, and a receipt needs room for its headers.
const MaxBody = 900 << 10

// redacted are headers that carry credentials rather than signatures; a
// scheme's token header is redacted as well, since there the token is the
// secret.
var redacted = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"}

// redactedQuery are query parameters that carry credentials.
var redactedQuery = []string{"hub.verify_token", "token", "access_token"}

// Request is what a receipt records of the HTTP request.
type Request struct {
	// ID is the receipt's id, chosen with NewID before the answer is
	// written so the sender can be told it; empty means a fresh one.
	ID                             string
	Method, RequestURI, RemoteAddr string
	Header                         http.Header
	ReceiveTime                    time.Time
	Replay                         bool
}

// Build makes the receipt of a request and its result; nil when the request
// named no known source (those are counted in metrics only).
func Build(req Request, res *pipeline.Result, status int, latency time.Duration, node string) *plugsv1.Receipt {
	if res.Source == nil {
		return nil
	}
	sc := res.Source.Config
	id := req.ID
	if id == "" {
		id = NewID()
	}
	rc := &plugsv1.Receipt{
		Id:            id,
		SourceId:      sc.GetId(),
		TenantId:      sc.GetTenantId(),
		ReceiveTime:   timestamppb.New(req.ReceiveTime),
		RemoteAddress: req.RemoteAddr,
		Method:        req.Method,
		RequestUri:    redactURI(req.RequestURI),
		Body:          res.Body,
		BodyTruncated: res.Cause == pipeline.CausePayloadTooLarge,
		Outcome:       outcomeOf(res.Outcome),
		Cause:         string(res.Cause),
		Detail:        res.Detail,
		Field:         res.Field,
		Latency:       durationpb.New(latency),
		Replay:        req.Replay,
		Test:          res.Test,
		DataPlane:     node,
		StatusCode:    int32(status),
	}
	if len(rc.Body) > MaxBody {
		rc.Body, rc.BodyTruncated = rc.Body[:MaxBody], true
	}
	if ev := res.Event; ev != nil {
		rc.EventType, rc.ProviderEventId = ev.GetEventType(), ev.GetEventId()
		rc.UsageEventId = ev.GetId()
	}
	token := sc.GetSignatureScheme().GetTokenHeader()
	names := make([]string, 0, len(req.Header))
	for name := range req.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := req.Header[name]
		if (token != "" && strings.EqualFold(token, name)) || slices.ContainsFunc(redacted, func(s string) bool { return strings.EqualFold(s, name) }) {
			values = []string{"[redacted]"}
		}
		rc.Headers = append(rc.Headers, &plugsv1.ReceiptHeader{Name: name, Values: values})
	}
	return rc
}

// NewID returns a fresh receipt id: a UUIDv7, so ids sort by time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

func outcomeOf(o pipeline.Outcome) plugsv1.Receipt_Outcome {
	switch o {
	case pipeline.Accepted:
		return plugsv1.Receipt_OUTCOME_ACCEPTED
	case pipeline.Duplicate:
		return plugsv1.Receipt_OUTCOME_DUPLICATE
	case pipeline.Filtered:
		return plugsv1.Receipt_OUTCOME_FILTERED
	case pipeline.Handshake:
		return plugsv1.Receipt_OUTCOME_HANDSHAKE
	}
	return plugsv1.Receipt_OUTCOME_REJECTED
}

func redactURI(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return path + "?[unparsable query]"
	}
	changed := false
	for _, k := range redactedQuery {
		if q.Has(k) {
			q.Set(k, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return uri
	}
	return path + "?" + q.Encode()
}
