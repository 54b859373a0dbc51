// Package pipeline is the path of one webhook through a data plane, read
// top to bottom in Handle: find the source, read the body within its limit,
// answer a handshake, verify the raw bytes, map and filter, hand the event
// to the sink. Each step is a small package that knows nothing of HTTP; the
// receiver turns a Result into a response.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Sink takes normalized events. Enqueue returns once the event is stored
// durably (or known to be a duplicate of a stored one); an error means
// nothing is known to be stored: the webhook is answered 503 and the
// provider retries. The events of a batch are enqueued concurrently. On a
// duplicate it sets ev.Id to the stored event's id, or clears it when that
// cannot be read, so the receipt never names an event that was not stored.
type Sink interface {
	Enqueue(ctx context.Context, ev *plugsv1.UsageEvent) (duplicate bool, err error)
}

// TestEventHeader marks a request as a test event (SendTestEvent sends
// it): verified like any other, but its usage event is marked test and
// deduplicated apart from the provider's events, so a test body carrying a
// real event's id cannot make that event a duplicate. It needs no
// authentication: it can only take an event out of billing, and a request
// that carries it must still be signed.
const TestEventHeader = "Plugs-Test-Event"

// Request is one webhook as the pipeline sees it.
type Request struct {
	SourceID string
	Method   string
	// URL is the full URL the provider called (for schemes that sign it).
	URL      string
	RawQuery string
	Header   http.Header
	Body     io.Reader
	// ContentLength is the declared body length, -1 when unknown.
	ContentLength int64
	ReceiveTime   time.Time
	// SkipVerification asks to skip the signature check; honoured only by
	// a pipeline built with AllowUnverified (plugs dev).
	SkipVerification bool
	// Replay marks a request received earlier and run again: the timestamp
	// freshness check is skipped, the signature is still checked.
	Replay bool
}

// Result is what became of a request.
type Result struct {
	Outcome Outcome
	Cause   Cause
	// Detail explains a rejection, or names the optional fields left
	// empty of an event taken, for logs and receipts; it never holds a
	// secret.
	Detail string
	// Field is the mapping field that failed, for CauseMappingFailed.
	Field string
	// Source is the source the request named, nil when unknown.
	Source *snapshot.Source
	// Test is set when the request was a test event (TestEventHeader).
	Test bool
	// Body is the raw body as read (possibly cut at the limit).
	Body []byte
	// Event is the usage event, for accepted and duplicate outcomes; nil
	// for a batch, whose events are its Items'.
	Event *plugsv1.UsageEvent
	// Batch is set when the source's mappings read a batch: Items then
	// says what became of each of its events, and Outcome sums them up
	// (batch.go).
	Batch bool
	Items []Item
	// Answer is the response to a handshake.
	Answer *verify.Answer
	// Verify, Map and Store are the durations of the steps that ran.
	Verify, Map, Store time.Duration
	// RetryAfter is when a rate-limited sender may try again.
	RetryAfter time.Duration
	// Verified is set once the request passed signature verification, or
	// skipped it through plugs dev's bypass: from then on it is the
	// source's own traffic. A receipt of a request that is not verified
	// keeps only the start of its body, since anyone who knows a source's
	// id can send one.
	Verified bool
	// Unrecorded is set when the source's budget for rejected requests
	// was spent: no receipt is kept, and Unrecorded is the cause the
	// request was rejected for. Cause is then CauseTooManyRejections, or
	// still CauseRateLimited (already a 429).
	Unrecorded Cause
}

// Pipeline runs webhooks against the configuration being served.
type Pipeline struct {
	config *snapshot.Store
	sink   Sink
	log    *slog.Logger
	// allowUnverified honours Request.SkipVerification. Only plugs dev
	// sets it.
	allowUnverified bool
	limits          Limiter
	rejections      RejectionBudget
	observer        Observer
	secrets         SecretCapturer
	// tracer is nil when tracing is off.
	tracer trace.Tracer
	// keys fetches providers' keys for public-key schemes.
	keys *verify.Fetcher
}

// Observer is told of every webhook handled and how long it took
// (metrics.DataPlane).
type Observer interface {
	Observe(res *Result, elapsed time.Duration)
}

// Limiter decides whether a request for a source may go on now, and if
// not, how long until it may (ratelimit.Limiter).
type Limiter interface {
	Allow(sourceID string, limit *plugsv1.RateLimit, now time.Time) (ok bool, retryAfter time.Duration)
}

// RejectionBudget bounds the receipts kept of requests rejected before they
// were verified, per source (ratelimit.Budget). Spend takes one from the
// source's budget; when it is spent, it says how long until it is not and,
// now and then, how many were refused since it last said so.
type RejectionBudget interface {
	Spend(sourceID string, now time.Time) (ok bool, retryAfter time.Duration, report int64)
}

// Options configure a pipeline.
type Options struct {
	Log *slog.Logger
	// AllowUnverified lets requests skip signature verification. It exists
	// for local development with plugs dev and must never be set on a data
	// plane that faces the internet.
	AllowUnverified bool
	// Limits refuses requests past the source's and the data plane's
	// rates; nil means no limits.
	Limits Limiter
	// Rejections, when set, bounds the requests each source may have
	// rejected before verification and still leave a receipt: past it,
	// such a request is answered 429 and only counted. It is spent after
	// the rejection, since whether a request verifies is only known once
	// its body is read; Limits is what refuses a sender before that.
	Rejections RejectionBudget
	// Observer, when set, is told of every webhook handled.
	Observer Observer
	// Tracing, when set, traces every webhook: an ingest span with verify,
	// map and store children. Nil (tracing off) costs nothing.
	Tracing trace.TracerProvider
	// Keys fetches and caches the keys of schemes whose keys come from
	// the provider (certificate URLs, key sets); nil refuses such
	// requests with key_unavailable.
	Keys *verify.Fetcher
	// Secrets stores secrets delivered by handshakes (Asana); nil refuses
	// such handshakes.
	Secrets SecretCapturer
}

// New returns a pipeline reading configuration from config and handing
// events to sink.
func New(config *snapshot.Store, sink Sink, opts Options) *Pipeline {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &Pipeline{config: config, sink: sink, log: opts.Log, allowUnverified: opts.AllowUnverified, limits: opts.Limits,
		rejections: opts.Rejections, observer: opts.Observer, secrets: opts.Secrets, keys: opts.Keys}
	if opts.Tracing != nil {
		p.tracer = opts.Tracing.Tracer(tracerName)
	}
	return p
}

// Handle runs one webhook through every step and reports the outcome.
func (p *Pipeline) Handle(ctx context.Context, req *Request) *Result {
	ctx, span := p.startIngest(ctx, req)
	var res *Result
	if p.observer == nil {
		res = p.handle(ctx, req)
		p.budget(ctx, req, res)
	} else {
		start := time.Now()
		res = p.handle(ctx, req)
		p.budget(ctx, req, res)
		p.observer.Observe(res, time.Since(start))
	}
	endIngest(span, res)
	return res
}

func (p *Pipeline) handle(ctx context.Context, req *Request) *Result {
	res := &Result{}

	// 1. The source: the id is the only routing key. Before the first
	// configuration arrives nothing can be said about it.
	cfg := p.config.Load()
	if cfg == nil {
		return res.reject(CauseNotReady, "no configuration loaded yet")
	}
	src := cfg.Source(req.SourceID)
	if src == nil {
		res.Outcome = UnknownSource
		return res
	}
	res.Source = src
	res.Test = req.Header.Get(TestEventHeader) == "true"
	if src.Config.GetStatus() == plugsv1.Source_STATUS_DISABLED {
		return res.reject(CauseSourceDisabled, "the source is disabled")
	}
	// GET and HEAD requests are only ever handshakes (Trello probes with
	// HEAD).
	if req.Method != http.MethodPost && req.Method != http.MethodGet && req.Method != http.MethodHead {
		return res.reject(CauseMethodNotAllowed, req.Method+" is not accepted")
	}
	// Before the body is read: a sender past its rate costs no more.
	// Replays are the operator's own and are not limited.
	if p.limits != nil && !req.Replay {
		if ok, wait := p.limits.Allow(req.SourceID, src.Config.GetRateLimit(), req.ReceiveTime); !ok {
			res.RetryAfter = wait
			return res.reject(CauseRateLimited, "over the rate limit; retry after "+wait.String())
		}
	}

	// 2. The body, never more than the source allows.
	body, err := readBody(req.Body, req.ContentLength, src.MaxBodyBytes)
	res.Body = body
	switch {
	case errors.Is(err, errTooLarge):
		return res.reject(CausePayloadTooLarge, fmt.Sprintf("body larger than %d bytes", src.MaxBodyBytes))
	case err != nil:
		return res.reject(CauseBodyUnreadable, err.Error())
	}
	doc := payload.New(body, req.Header.Get("Content-Type"))
	vreq := &verify.Request{Method: req.Method, URL: req.URL, Header: req.Header, Body: doc}
	now := req.ReceiveTime

	// 3. Handshakes that come unsigned (Meta's GET, Microsoft Graph's
	// validationToken, Asana's X-Hook-Secret): answered before, and
	// instead of, verification.
	ans, err := src.Verifier.Handshake(vreq, req.RawQuery, false, verify.Options{Now: now})
	switch {
	case err != nil:
		return res.reject(verifyCause(err), err.Error())
	case ans != nil && ans.CapturedSecret != "":
		return p.capture(ctx, res, ans)
	case ans != nil:
		res.Outcome, res.Answer = Handshake, ans
		return res
	case req.Method != http.MethodPost:
		return res.reject(CauseMethodNotAllowed, req.Method+" is only answered for the provider's handshake")
	}

	// 4. Verification of the raw bytes, before anything reads them.
	start := time.Now()
	unverified := req.SkipVerification && p.allowUnverified
	if !unverified {
		span := p.startStep(ctx, "verify")
		err := src.Verifier.Verify(vreq, verify.Options{Now: now, SkipFreshness: req.Replay, Keys: p.keys, Context: ctx})
		res.Verify = time.Since(start)
		endStep(span, err, verifyCause)
		if err != nil {
			res.RetryAfter = verify.RetryAfter(err)
			return res.reject(verifyCause(err), err.Error())
		}
	}
	res.Verified = true
	if vreq.Document != nil {
		// A verified token's claims, or the body with its encoded fields
		// decoded: what the provider vouched for is what is mapped.
		doc = vreq.Document
	}

	// 5. Handshakes that are signed like events (Slack, Zoom, AWS SNS's
	// subscription confirmation, whose URL is visited first).
	if ans, err := src.Verifier.Handshake(vreq, req.RawQuery, true, verify.Options{Now: now, Keys: p.keys, Context: ctx}); err != nil {
		res.RetryAfter = verify.RetryAfter(err)
		return res.reject(verifyCause(err), err.Error())
	} else if ans != nil {
		res.Outcome, res.Answer = Handshake, ans
		return res
	}

	// A batch: steps 6 and 7 for each of its events (batch.go).
	in := mapping.Input{Body: doc, Header: req.Header, ReceiveTime: now}
	if src.Mapper.Batch() {
		return p.fanOut(ctx, res, src, in, unverified)
	}

	// 6. Filter and map to a usage event.
	start = time.Now()
	span := p.startStep(ctx, "map")
	ev := newEvent(src, now, unverified, res.Test)
	warnings, err := src.Mapper.Map(in, ev)
	if len(warnings) > 0 {
		// Optional fields left empty: the event is taken, the receipt
		// says which and why.
		res.Detail = mapping.Warning(warnings)
	}
	res.Map = time.Since(start)
	endStep(span, err, mapCause)
	var mapErr *mapping.Error
	switch {
	case errors.Is(err, mapping.ErrFiltered):
		res.Outcome = Filtered
		res.Event = ev
		return res
	case errors.Is(err, payload.ErrUnparsable):
		return res.reject(CauseUnparsablePayload, err.Error())
	case errors.As(err, &mapErr):
		res.Field = mapErr.Field()
		return res.reject(CauseMappingFailed, err.Error())
	case err != nil:
		return res.reject(CauseMappingFailed, err.Error())
	}
	if ev.EventId == "" {
		// No provider id mapped: a retry of the same request has the same
		// body, so the body's hash keeps duplicates out all the same.
		sum := sha256.Sum256(body)
		ev.EventId = "sha256:" + hex.EncodeToString(sum[:])
	}
	if err := setID(ev); err != nil {
		return res.reject(CauseBackboneUnavailable, err.Error())
	}
	res.Event = ev

	// 7. Store durably; only then is the webhook acknowledged.
	start = time.Now()
	span = p.startStep(ctx, "store")
	// The event carries the ingest span's context, not the store span's:
	// its deliveries belong to the webhook, not to the write.
	dup, err := p.sink.Enqueue(ctx, ev)
	res.Store = time.Since(start)
	endStep(span, err, storeCause)
	if err != nil {
		p.log.WarnContext(ctx, "event not stored", "source", ev.SourceId, "error", err)
		return res.reject(CauseBackboneUnavailable, err.Error())
	}
	if dup {
		res.Outcome = Duplicate
		return res
	}
	res.Outcome = Accepted
	return res
}

// newEvent is a usage event of src received at now, before mapping.
func newEvent(src *snapshot.Source, now time.Time, unverified, test bool) *plugsv1.UsageEvent {
	return &plugsv1.UsageEvent{
		TenantId:    src.Config.GetTenantId(),
		SourceId:    src.Config.GetId(),
		MetricId:    src.Config.GetMetricId(),
		ReceiveTime: timestamppb.New(now),
		// Both choose the event's id space (backbone.Subject): neither
		// kind can occupy the dedup slot of the provider's signed event.
		Unverified: unverified,
		Test:       test,
	}
}

// setID gives a mapped event its own id, a UUIDv7.
func setID(ev *plugsv1.UsageEvent) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("cannot generate an event id: %w", err)
	}
	ev.Id = id.String()
	return nil
}

// budget spends the source's budget for rejected requests on a request
// rejected before it was verified. Past the budget the request leaves no
// receipt: it is answered 429, counted, and reported in one log line per
// source now and then. A flood of forged requests then costs the backbone
// and the receipts index nothing more.
func (p *Pipeline) budget(ctx context.Context, req *Request, res *Result) {
	if p.rejections == nil || res.Outcome != Rejected || res.Verified || res.Source == nil || req.Replay {
		return
	}
	ok, wait, report := p.rejections.Spend(req.SourceID, req.ReceiveTime)
	if ok {
		return
	}
	if report > 0 {
		p.log.WarnContext(ctx, "rejected requests over the source's budget: answered 429 and not recorded",
			"source", req.SourceID, "count", report, "last_cause", res.Cause)
	}
	res.Unrecorded = res.Cause
	if res.Cause == CauseRateLimited {
		return
	}
	res.RetryAfter = wait
	res.reject(CauseTooManyRejections, string(res.Unrecorded)+": "+res.Detail)
}

func (r *Result) reject(c Cause, detail string) *Result {
	r.Outcome, r.Cause, r.Detail = Rejected, c, detail
	return r
}

// verifyCause maps a verification error to its cause.
func verifyCause(err error) Cause {
	switch {
	case errors.Is(err, verify.ErrSecretMissing):
		return CauseSecretMissing
	case errors.Is(err, verify.ErrSignatureMissing):
		return CauseSignatureMissing
	case errors.Is(err, verify.ErrSignatureMalformed):
		return CauseSignatureMalformed
	case errors.Is(err, verify.ErrSignatureStale):
		return CauseSignatureStale
	case errors.Is(err, verify.ErrKeyUnavailable):
		return CauseKeyUnavailable
	case errors.Is(err, payload.ErrUnparsable):
		return CauseUnparsablePayload
	}
	return CauseSignatureInvalid
}

// readBody reads at most limit bytes; a body that declares or turns out to
// be longer fails with errTooLarge without reading past the limit.
func readBody(r io.Reader, declared, limit int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	if declared > limit {
		return nil, errTooLarge
	}
	size := int64(512)
	if declared >= 0 {
		size = declared + 1
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf[:limit], errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("reading the body: %w", err)
		}
	}
}
