package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"time"

	"github.com/plugshq/plugs/internal/tracing"
)

// traceFlags say where spans go; controlplane, dataplane and dev take the
// same ones (dev once, for both its planes).
type traceFlags struct {
	endpoint string
	ratio    float64
}

func (f *traceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "otlp-endpoint", envOr("PLUGS_OTLP_ENDPOINT", ""),
		"base URL of an OTLP/HTTP collector to send traces to, for example http://otel-collector:4318; empty uses OTEL_EXPORTER_OTLP_ENDPOINT, and traces nothing when that is unset too (PLUGS_OTLP_ENDPOINT)")
	fs.Float64Var(&f.ratio, "trace-sample-ratio", envFloat("PLUGS_TRACE_SAMPLE_RATIO", 1),
		"share of new traces recorded, 0 to 1; a trace continued from a caller follows the caller's choice (PLUGS_TRACE_SAMPLE_RATIO)")
}

// start sets tracing up for service; a setting that does not hold is a
// usage error, reported before anything starts.
func (f *traceFlags) start(ctx context.Context, service string) (*tracing.Provider, error) {
	tp, err := tracing.Start(ctx, tracing.Config{Endpoint: f.endpoint, SampleRatio: f.ratio, Service: service, Version: build.version})
	if errors.Is(err, tracing.ErrConfig) {
		return nil, usageErr("%v", err)
	}
	return tp, err
}

// stopTracing exports the spans still buffered; it runs after everything
// that makes spans has stopped.
func stopTracing(tp *tracing.Provider) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		slog.Warn("spans not exported on shutdown", "error", err)
	}
}
