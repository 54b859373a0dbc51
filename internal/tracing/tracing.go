// Package tracing sets up OpenTelemetry tracing for a Plugs process: an
// OTLP/HTTP exporter when an endpoint is configured, nothing otherwise.
//
// Components take a trace.TracerProvider that is nil when tracing is off,
// and then skip their spans altogether instead of making no-op ones: the
// ingest path pays no allocation for a feature that is not on. Trace
// context travels in W3C traceparent/tracestate headers: from the
// provider's request, through the JetStream messages of the event and its
// deliveries, to the request each forward attempt makes.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Service names, one per kind of process, so a trace shows which plane
// each span came from.
const (
	ServiceDataPlane    = "plugs-dataplane"
	ServiceControlPlane = "plugs-controlplane"
	ServiceDev          = "plugs-dev"
)

// tracesPath is where an OTLP/HTTP collector takes traces.
const tracesPath = "/v1/traces"

// Config says whether and where spans are exported.
type Config struct {
	// Endpoint is the base URL of an OTLP/HTTP collector, such as
	// http://otel-collector:4318; /v1/traces is appended when it has no
	// path. Empty falls back to the standard OTEL_EXPORTER_OTLP_ENDPOINT
	// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and tracing is off when
	// neither is set.
	Endpoint string
	// SampleRatio is the share of new traces recorded, in [0, 1]. A trace
	// continued from a caller follows the caller's decision (parent-based
	// sampling), so a trace is never recorded in part.
	SampleRatio float64
	// Service and Version name the process in every span's resource.
	Service, Version string
	Log              *slog.Logger
}

// Provider is a process's tracing: the SDK's provider batching spans to
// the collector, or nothing when tracing is off.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// Start builds the provider cfg describes. With no endpoint configured it
// returns a provider that is off, at no cost.
func Start(ctx context.Context, cfg Config) (*Provider, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("%w: the sample ratio %v is not between 0 and 1", ErrConfig, cfg.SampleRatio)
	}
	var opts []otlptracehttp.Option
	switch {
	case cfg.Endpoint != "":
		u, err := endpointURL(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "":
		return &Provider{}, nil
	}
	// The exporter reads the other standard variables itself
	// (OTEL_EXPORTER_OTLP_HEADERS, _CERTIFICATE, _TIMEOUT, …), and the
	// endpoint when none was given here.
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExporter, err)
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(cfg.Service), semconv.ServiceVersion(cfg.Version)),
		// Last, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win, as
		// operators of other OpenTelemetry services expect.
		resource.WithFromEnv(),
	)
	if err != nil {
		// A partial resource is still usable; only some detection failed.
		log.Warn("tracing: resource detection incomplete", "error", err)
	}
	if res == nil {
		res = resource.Default()
	}
	// Export failures (a collector that is down) are the SDK's to retry
	// and drop; they are logged, never returned to a request.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: export", "error", err) }))
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	log.Info("tracing on", "service", cfg.Service, "sample_ratio", cfg.SampleRatio)
	return &Provider{sdk: sdk}, nil
}

// endpointURL checks an endpoint and gives it the traces path the way the
// standard OTEL_EXPORTER_OTLP_ENDPOINT is given it.
func endpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: the OTLP endpoint %q is not an http:// or https:// URL", ErrConfig, endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String(), nil
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Tracers is what components take as their tracer provider: nil when
// tracing is off, so they skip spans altogether.
func (p *Provider) Tracers() trace.TracerProvider {
	if !p.Enabled() {
		return nil
	}
	return p.sdk
}

// Shutdown exports the spans still buffered, within ctx (5 s when ctx has
// no deadline), and stops the provider. Call it after everything that
// makes spans has stopped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("%w: flush on shutdown: %w", ErrExporter, err)
	}
	return nil
}
