package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Propagator carries trace context as W3C traceparent and tracestate
// headers, the format every OpenTelemetry collector and most senders speak.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// fields are the headers Propagator writes, in their canonical spelling,
// which is how propagation.HeaderCarrier stores them.
var fields = func() []string {
	var out []string
	for _, f := range Propagator.Fields() {
		out = append(out, http.CanonicalHeaderKey(f))
	}
	return out
}()

// Inject writes the span context of ctx into h, the headers of an HTTP
// request or of a JetStream message (nats.Header), when ctx carries one.
func Inject(ctx context.Context, h map[string][]string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	Propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract returns ctx with the remote span context found in h as the
// parent of the spans started from it, or ctx as is when h carries none.
func Extract(ctx context.Context, h map[string][]string) context.Context {
	return Propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Copy copies the trace context headers from src to dst, so a message
// derived from another continues its trace.
func Copy(dst, src map[string][]string) {
	for _, k := range fields {
		if v, ok := src[k]; ok {
			dst[k] = v
		}
	}
}
