package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/internal/tracing"
)

// One webhook is one trace, from the receiver through JetStream to the
// destination: an ingest span with verify, map and store children, and a
// forward span for the attempt under the ingest span, whose traceparent
// the destination receives. The control plane's API calls are traced too.
func TestTracingFromIngestToDestination(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	w := startTraced(t, tp)
	src := w.stripeSource()

	var mu sync.Mutex
	var parents []string
	dest := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		parents = append(parents, r.Header.Get("traceparent"))
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(dest.Close)
	destID := w.destination(dest.URL, "a-plain-shared-key-0123456789", nil)

	if code := w.send(src, invoice("evt_traced")); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	var forward tracetest.SpanStub
	waitFor(t, "the forward span", func() bool {
		for _, s := range exp.GetSpans() {
			if s.Name == "forward" {
				forward = s
				return true
			}
		}
		return false
	})

	var ingest tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "ingest" && attr(s, tracing.SourceID) == src {
			ingest = s
		}
	}
	if !ingest.SpanContext.IsValid() {
		t.Fatalf("no ingest span for the source among %v", spanNames(exp.GetSpans()))
	}
	if attr(ingest, tracing.Outcome) != "accepted" || attr(ingest, tracing.EventType) != "invoice.paid" {
		t.Errorf("ingest span attributes %v", ingest.Attributes)
	}
	traceID := ingest.SpanContext.TraceID()
	children := map[string]bool{}
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == ingest.SpanContext.SpanID() {
			children[s.Name] = true
		}
	}
	for _, step := range []string{"verify", "map", "store", "forward"} {
		if !children[step] {
			t.Errorf("no %s span under the ingest span; its children are %v", step, children)
		}
	}

	if forward.SpanContext.TraceID() != traceID || forward.SpanKind != trace.SpanKindClient {
		t.Fatalf("forward span in trace %s (kind %v); want the webhook's %s", forward.SpanContext.TraceID(), forward.SpanKind, traceID)
	}
	for k, v := range map[attribute.Key]string{
		tracing.DestinationID: destID, tracing.Attempt: "1", tracing.StatusCode: "204", tracing.Outcome: "delivered",
	} {
		if got := attr(forward, k); got != v {
			t.Errorf("forward span %s = %q, want %q", k, got, v)
		}
	}

	// The destination continues the trace from the attempt's span.
	mu.Lock()
	got := append([]string(nil), parents...)
	mu.Unlock()
	want := "00-" + traceID.String() + "-" + forward.SpanContext.SpanID().String() + "-01"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the destination got traceparent %q, want [%s]", got, want)
	}

	// The API calls that set this up are spans of the control plane.
	var created bool
	for _, s := range exp.GetSpans() {
		created = created || (s.Name == "plugs.v1.SourceService/CreateSource" && s.SpanKind == trace.SpanKindServer)
	}
	if !created {
		t.Errorf("no gRPC server span for CreateSource among %v", spanNames(exp.GetSpans()))
	}

	// A REST call continues its caller's trace.
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("GET", w.rest+"/v1/templates?page_size=1", nil)
	req.Header.Set("Authorization", "Bearer "+w.key)
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The server span ends as the call's last message is sent, which the
	// gateway may answer before: wait for it.
	continued := func() bool {
		for _, s := range exp.GetSpans() {
			if s.Name == "plugs.v1.TemplateService/ListTemplates" && s.SpanContext.TraceID().String() == callerTrace {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for !continued() {
		if time.Now().After(deadline) {
			t.Fatalf("the REST call's span is not in the caller's trace %s", callerTrace)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attr(s tracetest.SpanStub, k attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

func spanNames(spans tracetest.SpanStubs) string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}
