package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/internal/logging"
)

func TestRequestIDReachesEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := logging.WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "with")
	log.Info("without")
	dec := json.NewDecoder(&buf)
	var with, without map[string]any
	if err := dec.Decode(&with); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&without); err != nil {
		t.Fatal(err)
	}
	if with["request_id"] != "req-1" || with["component"] != "test" {
		t.Fatalf("line with the id: %v", with)
	}
	if _, ok := without["request_id"]; ok {
		t.Fatalf("line without a context has an id: %v", without)
	}
}

func TestTraceIDReachesLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(slog.NewJSONHandler(&buf, nil)))
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
	log.InfoContext(ctx, "traced")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["trace_id"] != tid.String() || line["span_id"] != sid.String() {
		t.Fatalf("line %v lacks the span", line)
	}
}
