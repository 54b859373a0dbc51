package forward

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/internal/tracing"
)

// tracerName is the instrumentation scope of the forwarder's spans.
const tracerName = "github.com/plugshq/plugs/dataplane/forward"

// startAttempt starts the span of one attempt as a child of the webhook's
// ingest span, whose context the delivery's headers carry. The context
// returned holds nothing else: an attempt is not cut off when the
// forwarder stops. Without tracing it is context.Background().
func (f *Forwarder) startAttempt(h nats.Header, destID, eventID string, attempt int) (context.Context, trace.Span) {
	ctx := context.Background()
	if f.tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return f.tracer.Start(tracing.Extract(ctx, h), "forward",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			tracing.DestinationID.String(destID),
			tracing.EventID.String(eventID),
			tracing.Attempt.Int(attempt),
		))
}

// endAttempt records the destination's answer and what became of the
// delivery. The status says the outcome only: the error may quote the
// destination's answer.
func endAttempt(span trace.Span, res result, outcome Outcome) {
	if span.IsRecording() {
		if res.status != 0 {
			span.SetAttributes(tracing.StatusCode.Int(res.status))
		}
		span.SetAttributes(tracing.Outcome.String(outcome.String()))
		if outcome != Delivered {
			span.SetStatus(codes.Error, outcome.String())
		}
	}
	span.End()
}
