// Package receiver is the HTTP face of the ingest endpoint,
// POST /v1/ingest/webhook/{sourceId}: it turns a request into a
// pipeline.Request, and a pipeline.Result into the status and JSON body of
// the ingest contract. Everything between lives in the pipeline.
package receiver

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/logging"
)

// ReceiptIDHeader names, on every answer for a known source, the receipt
// the request left; GET /v1/receipts/{id} finds it once it is indexed. It
// is sent only by a receiver that records receipts.
const ReceiptIDHeader = "Plugs-Receipt-Id"

// SkipVerificationHeader asks a plugs dev data plane to accept a request
// without checking its signature. Every other data plane ignores it.
const SkipVerificationHeader = "X-Plugs-Skip-Verification"

// Options configure a receiver.
type Options struct {
	// PublicURL is the base URL providers call, such as
	// "https://hooks.example.com". Schemes that sign the URL (Twilio,
	// Square, HubSpot) need the URL exactly as the provider called it, which
	// a data plane behind a load balancer cannot see. Empty means the URL
	// is rebuilt from the request.
	PublicURL string
	// TrustForwardedHeaders rebuilds the URL from X-Forwarded-Proto and
	// X-Forwarded-Host when PublicURL is empty. Set it only behind a proxy
	// that overwrites those headers.
	TrustForwardedHeaders bool
	// RetryAfter is sent with 503 answers.
	RetryAfter time.Duration
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Receipts, when set, is given a receipt of every request that names
	// a known source (but for rejections past the source's budget, which
	// leave none); it must not block, and says whether it kept the
	// receipt: only a kept receipt's id is sent to the sender.
	Receipts interface {
		Record(*plugsv1.Receipt) bool
	}
	// NodeID names this data plane in receipts.
	NodeID string
}

// Receiver serves the ingest endpoint.
type Receiver struct {
	pipeline *pipeline.Pipeline
	opts     Options
}

// New returns a receiver running requests through p.
func New(p *pipeline.Pipeline, opts Options) *Receiver {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 5 * time.Second
	}
	opts.PublicURL = strings.TrimSuffix(opts.PublicURL, "/")
	return &Receiver{pipeline: p, opts: opts}
}

// Register adds the ingest routes to mux.
func (rc *Receiver) Register(mux *http.ServeMux) {
	mux.Handle("/v1/ingest/webhook/{sourceId}", rc)
}

// ServeHTTP handles one webhook.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &pipeline.Request{
		SourceID:         r.PathValue("sourceId"),
		Method:           r.Method,
		URL:              rc.requestURL(r),
		RawQuery:         r.URL.RawQuery,
		Header:           r.Header,
		Body:             r.Body,
		ContentLength:    r.ContentLength,
		ReceiveTime:      rc.opts.Now().UTC(),
		SkipVerification: r.Header.Get(SkipVerificationHeader) == "true",
	}
	// The receipt's id is the request's id in every log line written for
	// it, and is chosen before the answer is written, so the sender (a
	// test event, an operator with curl) can look the receipt up.
	requestID := receipts.NewID()
	ctx := logging.WithRequestID(r.Context(), requestID)
	res := rc.pipeline.Handle(ctx, req)
	if res.Outcome == pipeline.Rejected {
		// Debug only: a flood of forged requests must not flood the log.
		rc.opts.Log.DebugContext(ctx, "webhook rejected", "source", req.SourceID, "cause", res.Cause, "detail", res.Detail)
	}
	// The receipt is queued before the answer is written, and the answer
	// names it only if it was: a receipt id given to the sender is never
	// one already dropped for want of room. (A backbone refusing it for
	// seconds, or the process being killed, can still lose it; see
	// docs/operations.md.)
	status := Status(res)
	if rc.opts.Receipts != nil && res.Source != nil && res.Unrecorded == pipeline.CauseNone {
		receipt := receipts.Build(receipts.Request{
			ID:     requestID,
			Method: r.Method, RequestURI: r.URL.RequestURI(), RemoteAddr: r.RemoteAddr,
			Header: r.Header, ContentLength: r.ContentLength, ReceiveTime: req.ReceiveTime, Replay: req.Replay,
		}, res, status, rc.opts.Now().Sub(req.ReceiveTime), rc.opts.NodeID)
		if rc.opts.Receipts.Record(receipt) {
			w.Header().Set(ReceiptIDHeader, requestID)
		}
	}
	rc.respond(w, res, status)
}

// Status is the HTTP status the ingest contract gives a result.
func Status(res *pipeline.Result) int {
	switch res.Outcome {
	case pipeline.Accepted, pipeline.Duplicate, pipeline.Filtered, pipeline.Handshake:
		return http.StatusOK
	case pipeline.UnknownSource:
		return http.StatusNotFound
	}
	return statusOf(res.Cause)
}

// respond writes the answer, of the status Status gave.
func (rc *Receiver) respond(w http.ResponseWriter, res *pipeline.Result, status int) {
	switch res.Outcome {
	case pipeline.Accepted, pipeline.Duplicate, pipeline.Filtered:
		writeJSON(w, status, received)
		return
	case pipeline.Handshake:
		// An answer echoes what the request carried: no browser may take
		// it for anything but its declared type.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		for name, vals := range res.Answer.Header {
			w.Header()[name] = vals
		}
		if res.Answer.ContentType != "" {
			w.Header().Set("Content-Type", res.Answer.ContentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write(res.Answer.Body)
		return
	case pipeline.UnknownSource:
		writeJSON(w, status, notFound)
		return
	}
	body := errorBody{Error: messages[res.Cause], Cause: string(res.Cause)}
	switch res.Cause {
	case pipeline.CauseMappingFailed:
		body.Field = res.Field
		body.Error = "required field " + res.Field + " could not be mapped"
	case pipeline.CauseMethodNotAllowed:
		w.Header().Set("Allow", "POST")
	case pipeline.CauseBackboneUnavailable, pipeline.CauseNotReady, pipeline.CauseControlPlaneUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(rc.opts.RetryAfter.Seconds())))
	case pipeline.CauseKeyUnavailable:
		retry := res.RetryAfter
		if retry <= 0 {
			retry = rc.opts.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	case pipeline.CauseRateLimited, pipeline.CauseTooManyRejections:
		// Whole seconds, rounded up: a sender retrying at once would be
		// refused again.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(res.RetryAfter.Seconds()))))
	}
	b, _ := json.Marshal(body)
	writeJSON(w, status, b)
}

var (
	received = []byte(`{"received":true}`)
	notFound = []byte(`{"error":"not found"}`)
)

type errorBody struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
	Field string `json:"field,omitempty"`
}

// messages are what a sender is told. They name the cause but never echo
// the detail, which may describe the source's configuration.
var messages = map[pipeline.Cause]string{
	pipeline.CauseSourceDisabled:          "the source is disabled",
	pipeline.CauseMethodNotAllowed:        "only POST is accepted",
	pipeline.CausePayloadTooLarge:         "request body too large",
	pipeline.CauseTooManyItems:            "too many events in one request",
	pipeline.CauseBodyUnreadable:          "request body could not be read",
	pipeline.CauseSecretMissing:           "signature verification failed",
	pipeline.CauseSignatureMissing:        "signature missing",
	pipeline.CauseSignatureMalformed:      "signature malformed",
	pipeline.CauseSignatureStale:          "signature timestamp outside the tolerance",
	pipeline.CauseSignatureInvalid:        "signature verification failed",
	pipeline.CauseUnparsablePayload:       "request body does not parse",
	pipeline.CauseBackboneUnavailable:     "temporarily unable to store the event; retry later",
	pipeline.CauseNotReady:                "starting up; retry later",
	pipeline.CauseControlPlaneUnavailable: "the handshake's secret could not be stored yet; retry later",
	pipeline.CauseKeyUnavailable:          "the provider's signing key could not be fetched; retry later",
	pipeline.CauseRateLimited:             "too many requests; retry after the time in Retry-After",
	pipeline.CauseTooManyRejections:       "too many rejected requests for this source; retry after the time in Retry-After",
}

func statusOf(c pipeline.Cause) int {
	switch c {
	case pipeline.CauseSourceDisabled:
		return http.StatusForbidden
	case pipeline.CauseMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case pipeline.CausePayloadTooLarge, pipeline.CauseTooManyItems:
		return http.StatusRequestEntityTooLarge
	case pipeline.CauseBodyUnreadable, pipeline.CauseUnparsablePayload:
		return http.StatusBadRequest
	case pipeline.CauseMappingFailed:
		return http.StatusUnprocessableEntity
	case pipeline.CauseBackboneUnavailable, pipeline.CauseNotReady, pipeline.CauseControlPlaneUnavailable, pipeline.CauseKeyUnavailable:
		return http.StatusServiceUnavailable
	case pipeline.CauseRateLimited, pipeline.CauseTooManyRejections:
		return http.StatusTooManyRequests
	}
	// Every verification failure, a missing secret included: fail closed.
	return http.StatusUnauthorized
}

// requestURL is the URL the provider called.
func (rc *Receiver) requestURL(r *http.Request) string {
	if rc.opts.PublicURL != "" {
		return rc.opts.PublicURL + r.URL.RequestURI()
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if rc.opts.TrustForwardedHeaders {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
