package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/datadir"
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
	// receiptIndexMax and unverifiedIndexMax bound the receipts index
	// (0: no bound).
	receiptIndexMax, unverifiedIndexMax int64
	// ingestURL is where the control plane reaches a data plane to send
	// test events; dev sets its own data plane's.
	ingestURL string
	// metrics gets the control plane's series, served at /metrics on
	// metricsAddr; plugs dev shares it with its data plane and serves it on
	// the REST port instead (metricsOnREST).
	metrics       *prometheus.Registry
	metricsAddr   string
	metricsOnREST bool
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
	// command names the process in the data directory's lock file.
	command string
	// hup, when set, reloads the master key file at once on each signal.
	hup <-chan os.Signal
	// lock is the data directory's, when the caller already holds it
	// (dev); otherwise startControlPlane takes it when the database is
	// SQLite in the data directory.
	lock *datadir.Lock
}

// Default byte limits of the receipts index: about a month of receipts at
// a million webhooks a day of 2 KB, of which forged requests (a few KiB
// each) may take a sixteenth.
const (
	defaultReceiptIndexMax    = 64 << 30
	defaultUnverifiedIndexMax = 4 << 30
)

func (f *cpFlags) register(fs *flag.FlagSet, defDataDir, defGRPC, defHTTP, defPublic string) {
	f.registerStore(fs, defDataDir, true)
	fs.StringVar(&f.grpcAddr, "grpc-addr", envOr("PLUGS_GRPC_ADDR", defGRPC), "gRPC listen address (PLUGS_GRPC_ADDR)")
	fs.StringVar(&f.httpAddr, "http-addr", envOr("PLUGS_HTTP_ADDR", defHTTP), "REST listen address (PLUGS_HTTP_ADDR)")
	fs.StringVar(&f.publicURL, "public-url", envOr("PLUGS_PUBLIC_URL", defPublic), "public base URL of the data planes, used in webhook_url (PLUGS_PUBLIC_URL)")
	secretVar(fs, &f.dataPlaneTokens, "dataplane-token", "PLUGS_DATAPLANE_TOKEN", "comma-separated `tokens` data planes authenticate with (PLUGS_DATAPLANE_TOKEN)")
	fs.DurationVar(&f.receiptRetention, "receipt-retention", envDuration("PLUGS_RECEIPT_RETENTION", 30*24*time.Hour),
		"how long receipts of received webhooks are kept; set the data planes' flag to the same (PLUGS_RECEIPT_RETENTION)")
	sizeVar(fs, &f.receiptIndexMax, "receipt-index-max-bytes", defaultReceiptIndexMax,
		"`size` (such as 64GiB) the receipts index may hold, counting each receipt's encoded size (the database needs more for its indexes); past it the oldest receipts are deleted, those of unverified requests first; none for no limit (PLUGS_RECEIPT_INDEX_MAX_BYTES)")
	sizeVar(fs, &f.unverifiedIndexMax, "unverified-receipt-index-max-bytes", defaultUnverifiedIndexMax,
		"`size` the receipts of requests that did not pass verification may hold in the index; past it the oldest of them are deleted; none for no limit (PLUGS_UNVERIFIED_RECEIPT_INDEX_MAX_BYTES)")
	fs.StringVar(&f.allowHTTPHosts, "allow-http-hosts", envOr("PLUGS_ALLOW_HTTP_HOSTS", ""),
		"comma-separated hosts destinations may use over plain http, and internal addresses they may name, for development (PLUGS_ALLOW_HTTP_HOSTS)")
	fs.Float64Var(&f.apiRate, "api-rate-limit", envFloat("PLUGS_API_RATE_LIMIT", 50),
		"calls per second each API key may make, gRPC and REST together, answering 429 past it; 0 means no limit (PLUGS_API_RATE_LIMIT)")
	fs.IntVar(&f.apiBurst, "api-rate-limit-burst", envInt("PLUGS_API_RATE_LIMIT_BURST", 100),
		"calls each API key may make at once above --api-rate-limit (PLUGS_API_RATE_LIMIT_BURST)")
	fs.Float64Var(&f.unauthRate, "unauthenticated-rate-limit", envFloat("PLUGS_UNAUTHENTICATED_RATE_LIMIT", 1),
		"calls per second each client address may make without valid credentials, gRPC and REST together; past it every call from there is answered 429 until it slows; 0 means no limit (PLUGS_UNAUTHENTICATED_RATE_LIMIT)")
	fs.IntVar(&f.unauthBurst, "unauthenticated-rate-limit-burst", envInt("PLUGS_UNAUTHENTICATED_RATE_LIMIT_BURST", 20),
		"calls without valid credentials each client address may make at once above --unauthenticated-rate-limit (PLUGS_UNAUTHENTICATED_RATE_LIMIT_BURST)")
}

// registerStore adds the flags saying where the database (and, withKey,
// the master key) is: all that the operator commands, which open the
// database directly, take.
func (f *cpFlags) registerStore(fs *flag.FlagSet, defDataDir string, withKey bool) {
	fs.StringVar(&f.dataDir, "data-dir", envOr("PLUGS_DATA_DIR", defDataDir), "directory for the SQLite database and key file (PLUGS_DATA_DIR)")
	fs.StringVar(&f.databaseURL, "database-url", envOr("PLUGS_DATABASE_URL", ""), "postgres://… to use PostgreSQL instead of SQLite (PLUGS_DATABASE_URL)")
	if withKey {
		fs.StringVar(&f.keyFile, "master-key-file", envOr("PLUGS_MASTER_KEY_FILE", ""),
			"master key file; default DATA_DIR/master.key; PLUGS_MASTER_KEY, the keys themselves, overrides it (PLUGS_MASTER_KEY_FILE)")
	}
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
	// keys follows the master key file until stopKeys; keysDone is then
	// closed.
	stopKeys context.CancelFunc
	keysDone chan struct{}
	// lock is the data directory's when this control plane took it.
	lock *datadir.Lock
}

func (c *controlPlane) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.srv.Stop(ctx)
	c.stopKeys()
	<-c.keysDone
	if c.nats != nil {
		c.nats.Close()
	}
	_ = c.db.Close()
	if c.lock != nil {
		c.lock.Release()
	}
}

// followedKeyFile is the absolute path of the master key file a server
// follows; empty when PLUGS_MASTER_KEY gives the keys.
func followedKeyFile(f *cpFlags) string {
	if secrets.FromEnvironment() {
		return ""
	}
	if abs, err := filepath.Abs(f.keyFilePath()); err == nil {
		return abs
	}
	return f.keyFilePath()
}

// holdDataDir takes the data directory's lock for the command, saying
// which master keys it follows, so a second server on the directory is
// refused and plugs keys rotate can wait for a new key to be loaded.
func holdDataDir(f *cpFlags) (*datadir.Lock, error) {
	l, err := datadir.Acquire(f.dataDir, datadir.Holder{Command: f.command, KeyFile: followedKeyFile(f)})
	if errors.Is(err, datadir.ErrInUse) {
		return nil, fmt.Errorf("%w; stop it first, or give this one another --data-dir", err)
	}
	return l, err
}

func startControlPlane(ctx context.Context, f *cpFlags, createKey bool, extraTokens []string) (cp *controlPlane, err error) {
	kr, err := secrets.Load(f.keyFilePath(), createKey)
	if err != nil {
		return nil, err
	}
	reloader := secrets.NewReloader(kr, f.keyFilePath(), slog.Default())
	lock := f.lock
	if lock == nil && f.databaseURL == "" {
		if lock, err = holdDataDir(f); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				lock.Release()
			}
		}()
	}
	if lock != nil {
		if err := lock.SetKeyIDs(kr.IDs()); err != nil {
			return nil, err
		}
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
		PublicIngestURL:      f.publicURL,
		IngestURL:            f.ingestURL,
		DataPlaneTokens:      tokens,
		TLS:                  f.tlsConfig,
		AllowHTTPHosts:       splitList(f.allowHTTPHosts),
		ReceiptRetention:     f.receiptRetention,
		ReceiptIndexMaxBytes: f.receiptIndexMax, UnverifiedReceiptIndexMaxBytes: f.unverifiedIndexMax,
		MetricsAddr:   f.metricsAddr,
		MetricsOnREST: f.metricsOnREST,
		Tracing:       f.tracing,
		Log:           slog.Default(),
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
	keysCtx, stopKeys := context.WithCancel(context.WithoutCancel(ctx))
	cp = &controlPlane{db: db, srv: srv, nats: nc, stopKeys: stopKeys, keysDone: make(chan struct{})}
	if f.lock == nil {
		cp.lock = lock
	}
	go followKeys(keysCtx, reloader, kr, lock, f.hup, cp.keysDone)
	return cp, nil
}

// followKeys keeps the keyring in step with the key file (the server
// builds withheld configuration again when it changes) and the lock file
// in step with the keyring, until ctx ends.
func followKeys(ctx context.Context, r *secrets.Reloader, kr *secrets.Keyring, lock *datadir.Lock, hup <-chan os.Signal, done chan struct{}) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(done)
	}()
	wg.Go(func() { r.Run(ctx, 0, hup) })
	for {
		changed := kr.Changed()
		if lock != nil {
			if err := lock.SetKeyIDs(kr.IDs()); err != nil {
				slog.Warn("data directory lock not updated with the master keys held", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func runControlPlane(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("controlplane", "[flags]", `
Runs a control plane: the gRPC API (--grpc-addr) and the same API as REST
with /metrics (--http-addr), on SQLite under --data-dir or on PostgreSQL
(--database-url), streaming configuration to the data planes.`)
	fs := cl.settings
	var f cpFlags
	var tf traceFlags
	f.register(fs, "./.plugs", ":9090", ":8081", "http://localhost:8080")
	f.tls.register(fs)
	f.registerNATS(fs)
	tf.register(fs)
	fs.StringVar(&f.ingestURL, "ingest-url", envOr("PLUGS_INGEST_URL", ""),
		"base URL this control plane reaches a data plane's ingest endpoint at, to send test events; empty disables them (PLUGS_INGEST_URL)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", envOr("PLUGS_METRICS_ADDR", ":9092"),
		"listen address of /metrics (plain HTTP, no API key), kept off the API's ports; empty disables it (PLUGS_METRICS_ADDR)")
	if err := cl.parse(args, stdout); err != nil {
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
	// SIGHUP reloads the master key file at once (it is also polled).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f.command, f.hup = "plugs controlplane", hup
	cp, err := startControlPlane(ctx, &f, false, nil)
	if err != nil {
		return portTaken(err, fs)
	}
	defer cp.stop()
	<-ctx.Done()
	return nil
}

var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}
