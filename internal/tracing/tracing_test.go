package tracing_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/internal/tracing"
)

// noStandardEndpoint clears the standard variables that would turn
// tracing on.
func noStandardEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
}

// Without an endpoint tracing is off: components get no provider, and
// shutting down has nothing to flush.
func TestOffWithoutEndpoint(t *testing.T) {
	noStandardEndpoint(t)
	tp, err := tracing.Start(context.Background(), tracing.Config{SampleRatio: 1, Service: tracing.ServiceDataPlane})
	if err != nil {
		t.Fatal(err)
	}
	if tp.Enabled() || tp.Tracers() != nil {
		t.Fatal("tracing is on without an endpoint")
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStandardEndpointTurnsTracingOn(t *testing.T) {
	noStandardEndpoint(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tp, err := tracing.Start(context.Background(), tracing.Config{SampleRatio: 1, Service: tracing.ServiceDataPlane})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	if !tp.Enabled() || tp.Tracers() == nil {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT did not turn tracing on")
	}
}

func TestInvalidSettings(t *testing.T) {
	noStandardEndpoint(t)
	for _, cfg := range []tracing.Config{
		{Endpoint: "collector:4318", SampleRatio: 1},
		{Endpoint: "ftp://collector", SampleRatio: 1},
		{Endpoint: "http://", SampleRatio: 1},
		{SampleRatio: 1.5},
		{SampleRatio: -0.1},
	} {
		if _, err := tracing.Start(context.Background(), cfg); !errors.Is(err, tracing.ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", cfg, err)
		}
	}
}

// collector is an OTLP/HTTP collector that keeps what it is sent.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
	spans []string
	names []string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.paths = append(c.paths, r.URL.Path)
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					c.names = append(c.names, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans = append(c.spans, s.GetName())
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// Spans are batched and sent to the collector's /v1/traces, named after the
// service; shutting down sends what is still buffered.
func TestExportsToCollectorAndFlushesOnShutdown(t *testing.T) {
	noStandardEndpoint(t)
	c := newCollector(t)
	tp, err := tracing.Start(context.Background(), tracing.Config{
		Endpoint: c.srv.URL, SampleRatio: 1, Service: tracing.ServiceControlPlane, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracers().Tracer("test").Start(context.Background(), "one")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Join(c.paths, ",") != "/v1/traces" || strings.Join(c.spans, ",") != "one" ||
		strings.Join(c.names, ",") != tracing.ServiceControlPlane {
		t.Fatalf("collector got paths %v, spans %v, services %v", c.paths, c.spans, c.names)
	}
}

// A ratio of 0 records no new trace, but one continued from a sampled
// caller is recorded: a trace is never cut in parts.
func TestSamplingIsParentBased(t *testing.T) {
	noStandardEndpoint(t)
	tp, err := tracing.Start(context.Background(), tracing.Config{Endpoint: "http://127.0.0.1:1", SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	tr := tp.Tracers().Tracer("test")
	if _, span := tr.Start(context.Background(), "root"); span.IsRecording() {
		t.Fatal("a new trace was sampled at ratio 0")
	}
	h := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	ctx := tracing.Extract(context.Background(), h)
	if _, span := tr.Start(ctx, "child"); !span.IsRecording() {
		t.Fatal("a sampled caller's trace was not continued")
	}
}

// Trace context goes into headers, comes out of them, and is copied from
// one message's headers to another's (nats.Header is the same map type).
func TestHeaders(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	in := map[string][]string{"Traceparent": {parent}, "Tracestate": {"vendor=1"}, "Other": {"x"}}
	ctx := tracing.Extract(context.Background(), in)
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || !sc.IsRemote() || !sc.IsSampled() {
		t.Fatalf("extracted %+v", sc)
	}
	out := map[string][]string{}
	tracing.Inject(ctx, out)
	if http.Header(out).Get("traceparent") != parent || http.Header(out).Get("tracestate") != "vendor=1" {
		t.Fatalf("injected %v", out)
	}
	copied := map[string][]string{}
	tracing.Copy(copied, in)
	if len(copied) != 2 || copied["Traceparent"][0] != parent {
		t.Fatalf("copied %v", copied)
	}
	// No span context, no header.
	none := map[string][]string{}
	tracing.Inject(context.Background(), none)
	if len(none) != 0 {
		t.Fatalf("injected %v without a span", none)
	}
}
