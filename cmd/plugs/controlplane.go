package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/tracing"
	"github.com/plugshq/plugs/templates"
)

// cpFlags are the control plane's settings, shared by dev.
type cpFlags struct {
	dataDir, databaseURL, keyFile string
	grpcAddr, httpAddr, publicURL string
	dataPlaneTokens               string
	// allowHTTPHosts may receive deliveries over plain http (development).
	allowHTTPHosts string
	// tls is registered by the commands that serve (controlplane, dev)
	// only; tlsConfig is what it loaded, nil for plaintext.
	tls       serverTLSFlags
	tlsConfig *tls.Config
	// receiptRetention is how long receipts are kept in the index.
	receiptRetention time.Duration
	// ingestURL is where the control plane reaches a data plane to send
	// test events; dev sets its own data plane's.
	ingestURL string
	// metrics gets the control plane's series, served at /metrics on the
	// REST port; plugs dev shares it with its data plane.
	metrics *prometheus.Registry
	// apiRate and apiBurst bound each API key's calls.
	apiRate  float64
	apiBurst int
	// unauthRate and unauthBurst bound each client address's calls
	// without valid credentials.
	unauthRate  float64
	unauthBurst int
	// nats reaches the backbone, for the destinations' dead letters; no
	// URL leaves those methods answering FAILED_PRECONDITION. Registered by
	// controlplane only: dev sets the embedded server's URL.
	nats natsFlags
	// tracing traces every gRPC call; nil (tracing off) traces nothing.
	tracing trace.TracerProvider
}

func (f *cpFlags) register(fs *flag.FlagSet, defDataDir, defGRPC, defHTTP, defPublic string) {
	fs.StringVar(&f.dataDir, "data-dir", envOr("PLUGS_DATA_DIR", defDataDir), "directory for the SQLite database and key file (PLUGS_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", envOr("PLUGS_DATABASE_URL", ""), "postgres://… to use PostgreSQL instead of SQLite (PLUGS_DATABASE_URL)")
	fs.StringVar(&f.keyFile, "master-key-file", envOr("PLUGS_MASTER_KEY_FILE", ""), "master key file; default DATA_DIR/master.key; PLUGS_MASTER_KEY overrides it")
	fs.StringVar(&f.grpcAddr, "grpc-addr", envOr("PLUGS_GRPC_ADDR", defGRPC), "gRPC listen address (PLUGS_GRPC_ADDR)")
	fs.StringVar(&f.httpAddr, "http-addr", envOr("PLUGS_HTTP_ADDR", defHTTP), "REST listen address (PLUGS_HTTP_ADDR)")
	fs.StringVar(&f.publicURL, "public-url", envOr("PLUGS_PUBLIC_URL", defPublic), "public base URL of the data planes, used in webhook_url (PLUGS_PUBLIC_URL)")
	secretVar(fs, &f.dataPlaneTokens, "dataplane-token", "PLUGS_DATAPLANE_TOKEN", "comma-separated `tokens` data planes authenticate with (PLUGS_DATAPLANE_TOKEN)")
	fs.DurationVar(&f.receiptRetention, "receipt-retention", envDuration("PLUGS_RECEIPT_RETENTION", 30*24*time.Hour),
		"how long receipts of received webhooks are kept; set the data planes' flag to the same (PLUGS_RECEIPT_RETENTION)")
	fs.StringVar(&f.allowHTTPHosts, "allow-http-hosts", envOr("PLUGS_ALLOW_HTTP_HOSTS", ""),
		"comma-separated hosts destinations may use over plain http, for development (PLUGS_ALLOW_HTTP_HOSTS)")
	fs.Float64Var(&f.apiRate, "api-rate-limit", envFloat("PLUGS_API_RATE_LIMIT", 50),
		"calls per second each API key may make, gRPC and REST together, answering 429 past it; 0 means no limit (PLUGS_API_RATE_LIMIT)")
	fs.IntVar(&f.apiBurst, "api-rate-limit-burst", envInt("PLUGS_API_RATE_LIMIT_BURST", 100),
		"calls each API key may make at once above --api-rate-limit (PLUGS_API_RATE_LIMIT_BURST)")
	fs.Float64Var(&f.unauthRate, "unauthenticated-rate-limit", envFloat("PLUGS_UNAUTHENTICATED_RATE_LIMIT", 1),
		"calls per second each client address may make without valid credentials, gRPC and REST together; past it every call from there is answered 429 until it slows; 0 means no limit (PLUGS_UNAUTHENTICATED_RATE_LIMIT)")
	fs.IntVar(&f.unauthBurst, "unauthenticated-rate-limit-burst", envInt("PLUGS_UNAUTHENTICATED_RATE_LIMIT_BURST", 20),
		"calls without valid credentials each client address may make at once above --unauthenticated-rate-limit (PLUGS_UNAUTHENTICATED_RATE_LIMIT_BURST)")
}

// registerNATS adds the flags reaching the backbone; plugs dev does not
// take them (its data-plane flags would clash, and it sets the embedded
// server's URL itself).
func (f *cpFlags) registerNATS(fs *flag.FlagSet) {
	f.nats.urlHelp = "NATS JetStream server or cluster URLs, to list and re-drive dead letters; empty disables that"
	f.nats.register(fs)
}

// splitList reads a comma-separated flag.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// loadTLS checks the TLS flags and loads their files, so a bad one stops
// the command before anything starts.
func (f *cpFlags) loadTLS() error {
	cfg, err := f.tls.load()
	if err != nil {
		return err
	}
	f.tlsConfig = cfg
	return nil
}

func (f *cpFlags) keyFilePath() string {
	if f.keyFile != "" {
		return f.keyFile
	}
	return filepath.Join(f.dataDir, "master.key")
}

// controlPlane is a started control plane with what it opened.
type controlPlane struct {
	db  *store.DB
	srv *server.Server
	// nats is nil without --nats-url.
	nats *backbone.Conn
}

func (c *controlPlane) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.srv.Stop(ctx)
	if c.nats != nil {
		c.nats.Close()
	}
	_ = c.db.Close()
}

func startControlPlane(ctx context.Context, f *cpFlags, createKey bool, extraTokens []string) (*controlPlane, error) {
	kr, err := secrets.Load(f.keyFilePath(), createKey)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, f.databaseURL, f.dataDir)
	if err != nil {
		return nil, err
	}
	catalog, err := templates.Builtin()
	if err != nil {
		db.Close()
		return nil, err
	}
	tokens := append(extraTokens, splitList(f.dataPlaneTokens)...)
	cfg := server.Config{
		DB: db, Keyring: kr, Catalog: catalog,
		GRPCAddr: f.grpcAddr, HTTPAddr: f.httpAddr,
		PublicIngestURL:  f.publicURL,
		IngestURL:        f.ingestURL,
		DataPlaneTokens:  tokens,
		TLS:              f.tlsConfig,
		AllowHTTPHosts:   splitList(f.allowHTTPHosts),
		ReceiptRetention: f.receiptRetention,
		Tracing:          f.tracing,
		Log:              slog.Default(),
	}
	if cfg.Metrics = f.metrics; cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if f.apiRate > 0 {
		cfg.APIRateLimit = &plugsv1.RateLimit{RequestsPerSecond: f.apiRate, Burst: int32(min(f.apiBurst, 1_000_000))}
	}
	if f.unauthRate > 0 {
		cfg.UnauthenticatedRateLimit = &plugsv1.RateLimit{RequestsPerSecond: f.unauthRate, Burst: int32(min(f.unauthBurst, 1_000_000))}
	}
	var nc *backbone.Conn
	if f.nats.url != "" {
		// Connect returns at once and keeps reconnecting in the
		// background: NATS being down fails dead-letter calls, not the
		// control plane.
		nc, err = backbone.Connect(ctx, f.nats.options("plugs-controlplane"))
		if err != nil {
			db.Close()
			return nil, err
		}
		cfg.JetStream = nc.JS
	} else {
		slog.Info("no --nats-url: dead letters cannot be listed or re-driven through the API")
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		db.Close()
		return nil, err
	}
	return &controlPlane{db: db, srv: srv, nats: nc}, nil
}

func runControlPlane(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("plugs controlplane", flag.ContinueOnError)
	var f cpFlags
	var tf traceFlags
	f.register(fs, "./.plugs", ":9090", ":8081", "http://localhost:8080")
	f.tls.register(fs)
	f.registerNATS(fs)
	tf.register(fs)
	fs.StringVar(&f.ingestURL, "ingest-url", envOr("PLUGS_INGEST_URL", ""),
		"base URL this control plane reaches a data plane's ingest endpoint at, to send test events; empty disables them (PLUGS_INGEST_URL)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if err := f.loadTLS(); err != nil {
		return err
	}
	if err := f.nats.load(); err != nil {
		return err
	}
	if f.tlsConfig == nil && !isLoopback(f.grpcAddr) {
		// config.Server refuses a plaintext stream from another host, since
		// it carries every source's signing secret.
		slog.Warn("no --tls-cert: data planes can connect from this host only")
	}
	tp, err := tf.start(ctx, tracing.ServiceControlPlane)
	if err != nil {
		return err
	}
	defer stopTracing(tp)
	f.tracing = tp.Tracers()
	cp, err := startControlPlane(ctx, &f, false, nil)
	if err != nil {
		return err
	}
	defer cp.stop()
	<-ctx.Done()
	return nil
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}
