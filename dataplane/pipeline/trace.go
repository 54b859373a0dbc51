package pipeline

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/internal/tracing"
)

// tracerName is the instrumentation scope of the pipeline's spans.
const tracerName = "github.com/plugshq/plugs/dataplane/pipeline"

// noSpan is what a pipeline without tracing "starts": it records nothing
// and, being a value made once, costs no allocation per webhook.
var noSpan = trace.SpanFromContext(context.Background())

// startIngest starts the span of one webhook. A request that carries a
// traceparent (a provider or proxy that traces) continues that trace.
func (p *Pipeline) startIngest(ctx context.Context, req *Request) (context.Context, trace.Span) {
	if p.tracer == nil {
		return ctx, noSpan
	}
	ctx = tracing.Extract(ctx, req.Header)
	return p.tracer.Start(ctx, "ingest", trace.WithSpanKind(trace.SpanKindServer))
}

// endIngest records what became of the webhook. The source id is set only
// for a known source: an unknown one is whatever the sender put in the URL.
func endIngest(span trace.Span, res *Result) {
	if span.IsRecording() {
		if res.Source != nil {
			span.SetAttributes(tracing.SourceID.String(res.Source.Config.GetId()))
		}
		span.SetAttributes(tracing.Outcome.String(string(res.Outcome)))
		if res.Cause != CauseNone {
			span.SetAttributes(tracing.Cause.String(string(res.Cause)))
			span.SetStatus(codes.Error, string(res.Cause))
		}
		if res.Event != nil && res.Event.GetEventType() != "" {
			span.SetAttributes(tracing.EventType.String(res.Event.GetEventType()))
		}
	}
	span.End()
}

// startStep starts the span of a step (verify, map, store) under the
// ingest span.
func (p *Pipeline) startStep(ctx context.Context, name string) trace.Span {
	if p.tracer == nil {
		return noSpan
	}
	_, span := p.tracer.Start(ctx, name)
	return span
}

// endStep ends a step's span, marking it failed with the cause of err. The
// status says the cause only: an error's text may quote the request.
func endStep(span trace.Span, err error, cause func(error) Cause) {
	if err != nil && span.IsRecording() {
		if c := cause(err); c != CauseNone {
			span.SetStatus(codes.Error, string(c))
		}
	}
	span.End()
}

// mapCause is the cause of a mapping error; a filtered event is no failure.
func mapCause(err error) Cause {
	switch {
	case errors.Is(err, mapping.ErrFiltered):
		return CauseNone
	case errors.Is(err, payload.ErrUnparsable):
		return CauseUnparsablePayload
	}
	return CauseMappingFailed
}

// storeCause is the cause of a store error.
func storeCause(error) Cause { return CauseBackboneUnavailable }
