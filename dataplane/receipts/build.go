package receipts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MaxBody is the most of a body a receipt keeps: NATS refuses messages over
// 1 MiB by default, and a receipt needs room for its headers.
const MaxBody = 900 << 10

// MaxUnverifiedBody is the most of a body a receipt keeps of a request
// that did not pass verification: enough to see what was sent, while a
// flood of forged megabyte requests costs kilobytes each. The receipt
// also keeps the whole body's length and SHA-256.
const MaxUnverifiedBody = 4 << 10

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
	// ContentLength is the length the sender declared, -1 when unknown:
	// the size of a body too large to be read.
	ContentLength int64
	ReceiveTime   time.Time
	Replay        bool
}

// Build makes the receipt of a request and its result; nil when the request
// named no known source (those are counted in metrics only). Every string
// it holds is valid UTF-8, as protobuf requires: bytes that are not are
// replaced by U+FFFD, so a receipt quoting a sender's bad header is still
// published.
func Build(req Request, res *pipeline.Result, status int, latency time.Duration, node string) *plugsv1.Receipt {
	if res.Source == nil {
		return nil
	}
	sc := res.Source.Config
	// A scheme's token, and a secret a handshake delivers, travel in
	// the clear: they are redacted like credentials.
	cleartextHeaders, cleartextQuery := verify.Cleartext(sc.GetSignatureScheme())
	id := req.ID
	if id == "" {
		id = NewID()
	}
	rc := &plugsv1.Receipt{
		Id:            id,
		SourceId:      sc.GetId(),
		TenantId:      sc.GetTenantId(),
		ReceiveTime:   timestamppb.New(req.ReceiveTime),
		RemoteAddress: text(req.RemoteAddr),
		Method:        text(req.Method),
		RequestUri:    text(redactURI(req.RequestURI, cleartextQuery)),
		Outcome:       outcomeOf(res.Outcome),
		Cause:         string(res.Cause),
		Detail:        text(res.Detail),
		Field:         text(res.Field),
		Latency:       durationpb.New(latency),
		Replay:        req.Replay,
		Test:          res.Test,
		DataPlane:     text(node),
		StatusCode:    int32(status),
		Unverified:    !res.Verified,
	}
	keepBody(rc, req, res)
	keepItems(rc, res)
	if ev := res.Event; ev != nil {
		rc.EventType, rc.ProviderEventId = text(ev.GetEventType()), text(ev.GetEventId())
		rc.UsageEventId = ev.GetId()
	}
	names := make([]string, 0, len(req.Header))
	for name := range req.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := req.Header[name]
		secret := func(s string) bool { return strings.EqualFold(s, name) }
		if slices.ContainsFunc(cleartextHeaders, secret) || slices.ContainsFunc(redacted, secret) {
			values = []string{"[redacted]"}
		} else if slices.ContainsFunc(values, invalid) {
			values = texts(values)
		}
		rc.Headers = append(rc.Headers, &plugsv1.ReceiptHeader{Name: text(name), Values: values})
	}
	return rc
}

// keepBody sets what a receipt keeps of the body: all of it up to MaxBody
// for a verified request, the first MaxUnverifiedBody bytes of any other,
// with the whole body's length and, when cut, its SHA-256.
func keepBody(rc *plugsv1.Receipt, req Request, res *pipeline.Result) {
	body := res.Body
	rc.BodySize = int64(len(body))
	if res.Cause == pipeline.CausePayloadTooLarge {
		// Not read past the limit: the length is the declared one, and
		// the whole body was never seen to hash it.
		rc.BodySize, rc.BodyTruncated = max(req.ContentLength, 0), true
	}
	limit := MaxBody
	if !res.Verified {
		limit = MaxUnverifiedBody
	}
	if len(body) > limit {
		if !rc.BodyTruncated {
			sum := sha256.Sum256(body)
			rc.BodySha256 = hex.EncodeToString(sum[:])
		}
		// A copy: the receipt waits in the spool, and must not hold the
		// whole request body it was cut from.
		body, rc.BodyTruncated = bytes.Clone(body[:limit]), true
	}
	rc.Body = body
}

// text is s with every byte that is not UTF-8 replaced by U+FFFD.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func texts(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = text(s)
	}
	return out
}

func invalid(s string) bool { return !utf8.ValidString(s) }

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

func redactURI(uri string, more []string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return path + "?[unparsable query]"
	}
	changed := false
	for _, k := range append(redactedQuery[:len(redactedQuery):len(redactedQuery)], more...) {
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
