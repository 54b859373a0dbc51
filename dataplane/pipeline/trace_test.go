package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/tracing"
	"github.com/plugshq/plugs/templates"
)

const (
	traceSourceID = "0192d1a0-0000-7000-8000-0000000000aa"
	traceSecret   = "whsec_trace_test_0123456789"
	// callerParent is a sampled trace a provider's request carries.
	callerParent  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	callerTraceID = "0af7651916cd43dd8448eb211c80319c"
	callerSpanID  = "b7ad6b7169203331"
)

// spanSink stores nothing; it counts events and keeps the span context
// the last one was stored under: what backbone.EventStore writes into the
// message headers. It allocates nothing itself.
type spanSink struct {
	mu   sync.Mutex
	n    int
	last trace.SpanContext
}

func (s *spanSink) Enqueue(ctx context.Context, _ *plugsv1.UsageEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.last = trace.SpanContextFromContext(ctx)
	return false, nil
}

// tracedPipeline serves one Stripe source through a pipeline traced by tp.
func tracedPipeline(t *testing.T, tp trace.TracerProvider) (*pipeline.Pipeline, *spanSink) {
	t.Helper()
	sink := &spanSink{}
	p := pipeline.New(stripeStore(t), sink, pipeline.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Tracing: tp})
	return p, sink
}

// stripeStore serves one Stripe source, traceSourceID, whose secret is
// traceSecret.
func stripeStore(t *testing.T) *snapshot.Store {
	t.Helper()
	tpl, err := templates.MustBuiltin().Get("stripe")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{{
		Id: traceSourceID, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte(traceSecret)}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	return store
}

// webhook is a signed Stripe request carrying the caller's traceparent;
// a wrong secret makes it fail verification.
func webhook(t *testing.T, secret string) *pipeline.Request {
	t.Helper()
	tpl, _ := templates.MustBuiltin().Get("stripe")
	body := []byte(`{"id":"evt_trace_1","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_1"}}}`)
	now := time.Now()
	signed, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: body, ContentType: "application/json"}, now)
	if err != nil {
		t.Fatal(err)
	}
	h := signed.Header.Clone()
	h.Set("Content-Type", "application/json")
	h.Set("traceparent", callerParent)
	return &pipeline.Request{SourceID: traceSourceID, Method: http.MethodPost, Header: h,
		Body: bytes.NewReader(body), ContentLength: int64(len(body)), ReceiveTime: now}
}

// With tracing off (no endpoint, the default) a webhook is handled as
// before, no span is made, the caller's trace is not continued, nothing
// reaches the store that would be written into the event's headers, and
// there is nothing to export on shutdown.
func TestTracingOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, err := tracing.Start(context.Background(), tracing.Config{SampleRatio: 1, Service: tracing.ServiceDataPlane})
	if err != nil {
		t.Fatal(err)
	}
	p, sink := tracedPipeline(t, tp.Tracers())
	res := p.Handle(context.Background(), webhook(t, traceSecret))
	if res.Outcome != pipeline.Accepted {
		t.Fatalf("outcome %s (%s: %s)", res.Outcome, res.Cause, res.Detail)
	}
	if sink.n != 1 || sink.last.IsValid() {
		t.Fatalf("%d events, the last stored under span context %v; want one, under none", sink.n, sink.last)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// And it allocates no more than a pipeline that never heard of tracing.
	if raceDetector {
		return
	}
	plain, _ := tracedPipeline(t, nil)
	off, _ := tracedPipeline(t, tp.Tracers())
	if a, b := handleAllocs(t, plain), handleAllocs(t, off); a != b {
		t.Fatalf("allocations per webhook: %v without tracing, %v with tracing off", a, b)
	}
}

// raceDetector is set when the tests run with -race.
var raceDetector bool

func handleAllocs(t *testing.T, p *pipeline.Pipeline) float64 {
	req := webhook(t, traceSecret)
	body := req.Body.(*bytes.Reader)
	return testing.AllocsPerRun(50, func() {
		_, _ = body.Seek(0, io.SeekStart)
		req.Body = body
		p.Handle(context.Background(), req)
	})
}

// With tracing on, a webhook is an ingest span continuing the caller's
// trace, with verify, map and store children, and the event is stored
// under the ingest span, whose context its deliveries continue.
func TestTracingSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	p, sink := tracedPipeline(t, tp)
	if res := p.Handle(context.Background(), webhook(t, traceSecret)); res.Outcome != pipeline.Accepted {
		t.Fatalf("outcome %s (%s)", res.Outcome, res.Cause)
	}
	spans := byName(exp.GetSpans())
	ingest, ok := spans["ingest"]
	if !ok {
		t.Fatalf("no ingest span among %v", names(exp.GetSpans()))
	}
	if ingest.SpanContext.TraceID().String() != callerTraceID || ingest.Parent.SpanID().String() != callerSpanID {
		t.Fatalf("ingest span %s under %s; want the caller's trace %s under %s",
			ingest.SpanContext.TraceID(), ingest.Parent.SpanID(), callerTraceID, callerSpanID)
	}
	if ingest.SpanKind != trace.SpanKindServer {
		t.Errorf("ingest span kind %v", ingest.SpanKind)
	}
	want := map[attribute.Key]string{
		tracing.SourceID: traceSourceID, tracing.Outcome: "accepted", tracing.EventType: "invoice.paid",
	}
	for k, v := range want {
		if got := attr(ingest, k); got != v {
			t.Errorf("ingest %s = %q, want %q", k, got, v)
		}
	}
	for _, step := range []string{"verify", "map", "store"} {
		s, ok := spans[step]
		if !ok || s.Parent.SpanID() != ingest.SpanContext.SpanID() {
			t.Errorf("%s span missing or not under ingest (spans %v)", step, names(exp.GetSpans()))
		}
	}
	if sink.n != 1 || sink.last.SpanID() != ingest.SpanContext.SpanID() {
		t.Fatalf("%d events, the last stored under %v; want one, under the ingest span %s", sink.n, sink.last, ingest.SpanContext.SpanID())
	}

	// A forged signature: the ingest and verify spans say why, and no
	// body or header value is recorded.
	exp.Reset()
	if res := p.Handle(context.Background(), webhook(t, "whsec_wrong_secret_0123456789")); res.Outcome != pipeline.Rejected {
		t.Fatalf("outcome %s", res.Outcome)
	}
	spans = byName(exp.GetSpans())
	ingest, verifySpan := spans["ingest"], spans["verify"]
	if attr(ingest, tracing.Cause) != "signature_invalid" || ingest.Status.Code != codes.Error ||
		verifySpan.Status.Code != codes.Error || verifySpan.Status.Description != "signature_invalid" {
		t.Fatalf("rejected webhook: ingest %v %v, verify %v", ingest.Attributes, ingest.Status, verifySpan.Status)
	}
	if _, ok := spans["map"]; ok {
		t.Fatal("a map span for a request that failed verification")
	}
}

func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	out := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		out[s.Name] = s
	}
	return out
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s tracetest.SpanStub, k attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}
