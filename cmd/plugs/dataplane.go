package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	dpserver "github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/snapshotfile"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/ratelimit"
	"github.com/plugshq/plugs/internal/tracing"
)

type dpFlags struct {
	controlPlane, token, ingestAddr, nodeID, zone string
	publicURL                                     string
	trustForwarded                                bool
	// allowUnverified honours the skip-verification request header; only
	// plugs dev can set it.
	allowUnverified bool
	// controlTLS is how to reach the control plane; creds is what it
	// loaded, or what plugs dev sets for its in-process data plane.
	controlTLS clientTLSFlags
	creds      credentials.TransportCredentials
	// ingestCert and ingestKey serve the ingest listener over TLS;
	// ingestTLS is what they loaded, nil for plaintext.
	ingestCert, ingestKey string
	ingestTLS             *tls.Config
	// snapshotFile keeps the last good configuration, sealed with
	// snapshotKey, so a restart serves before the control plane answers.
	snapshotFile, snapshotKey string
	// nats reaches the backbone; natsReplicas is the replica count of the
	// streams created there.
	nats         natsFlags
	natsReplicas int
	// groupCommit stores the events of concurrent webhooks as atomic
	// batches: for a server that syncs every write.
	groupCommit      bool
	receiptRetention time.Duration
	// receiptStreamMax and unverifiedStreamMax bound the receipts
	// streams (0: no bound).
	receiptStreamMax, unverifiedStreamMax int64
	// egressAllow lists CIDRs and hosts deliveries may reach although they
	// are private (development).
	egressAllow string
	// roles is what this data plane does: receive webhooks, forward
	// events, or both (the default). Running them in separate processes
	// keeps a receiver crash from repeating a delivery in flight, and lets
	// forwarding egress from a few hosts the customer can allow-list.
	roles    string
	receive  bool
	forwards bool
	// rateLimit and rateBurst are the global token bucket of the ingest
	// endpoint; sources add their own.
	rateLimit float64
	rateBurst int
	// rejectedRate and rejectedBurst are each source's budget for
	// requests rejected before verification that still leave a receipt.
	rejectedRate  float64
	rejectedBurst int
	// metricsAddr serves /metrics apart from the public ingest listener;
	// empty serves none. plugs dev sets metrics instead: the data plane's
	// series join the control plane's on its /metrics.
	metricsAddr string
	metrics     *prometheus.Registry
	// memoryLimit is the Go heap's soft limit (applyMemoryLimit).
	memoryLimit string
	// pprofAddr serves Go's profiles, for finding where time goes; empty
	// (the default) serves none. Keep it on loopback.
	pprofAddr string
	// tracing traces webhooks and their forward attempts; nil (tracing
	// off) traces nothing.
	tracing trace.TracerProvider
}

// maxConfigMsg bounds a configuration message the data plane accepts: a
// full snapshot of many sources is far beyond gRPC's 4 MiB default.
const maxConfigMsg = 1 << 30

// register adds the data plane's flags; inProcess (plugs dev) leaves out
// the connection flags, which dev sets itself.
func (f *dpFlags) register(fs *flag.FlagSet, defIngest string, inProcess bool) {
	host, _ := os.Hostname()
	if !inProcess {
		fs.StringVar(&f.controlPlane, "controlplane", envOr("PLUGS_CONTROLPLANE", "127.0.0.1:9090"), "control plane gRPC address (PLUGS_CONTROLPLANE)")
		secretVar(fs, &f.token, "dataplane-token", "PLUGS_DATAPLANE_TOKEN",
			"data-plane `token`, from the control plane's --dataplane-token or 'plugs tokens create --dataplane' (PLUGS_DATAPLANE_TOKEN)")
		f.controlTLS.register(fs, true)
	}
	fs.StringVar(&f.ingestCert, "ingest-tls-cert", envOr("PLUGS_INGEST_TLS_CERT", ""), "PEM certificate to serve the ingest listener over TLS (PLUGS_INGEST_TLS_CERT)")
	fs.StringVar(&f.ingestKey, "ingest-tls-key", envOr("PLUGS_INGEST_TLS_KEY", ""), "PEM private key of --ingest-tls-cert (PLUGS_INGEST_TLS_KEY)")
	fs.StringVar(&f.ingestAddr, "ingest-addr", envOr("PLUGS_INGEST_ADDR", defIngest), "public ingest listen address (PLUGS_INGEST_ADDR)")
	fs.StringVar(&f.nodeID, "node-id", envOr("PLUGS_NODE_ID", host), "stable id of this data plane (PLUGS_NODE_ID)")
	fs.StringVar(&f.zone, "zone", envOr("PLUGS_ZONE", ""), "zone or region (PLUGS_ZONE)")
	fs.StringVar(&f.snapshotFile, "snapshot-file", envOr("PLUGS_SNAPSHOT_FILE", ""),
		"keep the last configuration in this file, encrypted, and serve it at start until the control plane answers (PLUGS_SNAPSHOT_FILE)")
	secretVar(fs, &f.snapshotKey, "snapshot-key", "PLUGS_SNAPSHOT_KEY",
		"`base64` of 32 bytes sealing --snapshot-file; prefer the environment variable (PLUGS_SNAPSHOT_KEY)")
	if !inProcess {
		f.nats.defURL, f.nats.urlHelp = "nats://127.0.0.1:4222", "NATS JetStream server or cluster URLs"
		f.nats.register(fs)
		fs.IntVar(&f.natsReplicas, "nats-replicas", envInt("PLUGS_NATS_REPLICAS", 1), "replicas of the streams Plugs creates: 3 on a production cluster (PLUGS_NATS_REPLICAS)")
		fs.BoolVar(&f.groupCommit, "nats-group-commit", envOr("PLUGS_NATS_GROUP_COMMIT", "") == "true",
			"under load, store the events of concurrent webhooks as one atomic batch the server syncs once; for servers with sync_interval always, nats-server 2.12+ (PLUGS_NATS_GROUP_COMMIT)")
		fs.DurationVar(&f.receiptRetention, "receipt-retention", envDuration("PLUGS_RECEIPT_RETENTION", backbone.DefaultReceiptRetention),
			"how long the receipts and delivery-log streams keep their messages; set the control plane's flag to the same (PLUGS_RECEIPT_RETENTION)")
	}
	// plugs dev's streams live on the developer's disk, and JetStream
	// reserves a stream's byte limit against the space it has.
	defStream, defUnverified := int64(backbone.DefaultReceiptMaxBytes), int64(backbone.DefaultUnverifiedReceiptMaxBytes)
	if inProcess {
		defStream, defUnverified = 1<<30, 256<<20
	}
	sizeVar(fs, &f.receiptStreamMax, "receipt-stream-max-bytes", defStream,
		"`size` (such as 8GiB) the stream carrying receipts of verified webhooks to the control plane may hold; past it the oldest are discarded, indexed or not; none for no limit (PLUGS_RECEIPT_STREAM_MAX_BYTES)")
	sizeVar(fs, &f.unverifiedStreamMax, "unverified-receipt-stream-max-bytes", defUnverified,
		"`size` the stream of receipts of requests that did not pass verification may hold, kept apart so they never push out the others; none for no limit (PLUGS_UNVERIFIED_RECEIPT_STREAM_MAX_BYTES)")
	if !inProcess {
		fs.StringVar(&f.roles, "roles", envOr("PLUGS_DATAPLANE_ROLES", "receive,forward"),
			"what this data plane does: receive (the ingest endpoint), forward (deliveries to destinations), or both (PLUGS_DATAPLANE_ROLES)")
	}
	if !inProcess {
		fs.StringVar(&f.metricsAddr, "metrics-addr", envOr("PLUGS_METRICS_ADDR", ":9091"),
			"listen address of /metrics, kept off the public ingest listener; empty disables it (PLUGS_METRICS_ADDR)")
	}
	fs.StringVar(&f.memoryLimit, "memory-limit", envOr("PLUGS_MEMORY_LIMIT", "auto"),
		"soft limit of the Go heap: auto (80% of the container's cgroup limit, unless GOMEMLIMIT is set), a size such as 140MiB, or none (PLUGS_MEMORY_LIMIT)")
	fs.StringVar(&f.pprofAddr, "pprof-addr", envOr("PLUGS_PPROF_ADDR", ""),
		"listen address of Go's /debug/pprof profiles, for example 127.0.0.1:6060; empty disables them (PLUGS_PPROF_ADDR)")
	fs.Float64Var(&f.rateLimit, "rate-limit", envFloat("PLUGS_RATE_LIMIT", 0),
		"requests per second this data plane accepts across all sources, answering 429 past it; 0 means no limit (PLUGS_RATE_LIMIT)")
	fs.IntVar(&f.rateBurst, "rate-limit-burst", envInt("PLUGS_RATE_LIMIT_BURST", 0),
		"requests accepted at once above --rate-limit; 0 means --rate-limit rounded up (PLUGS_RATE_LIMIT_BURST)")
	fs.Float64Var(&f.rejectedRate, "rejected-rate-limit", envFloat("PLUGS_REJECTED_RATE_LIMIT", 1),
		"requests per second each source may have rejected before verification (bad signature, too large, over its rate) and still leave a receipt; past it they are answered 429 and only counted; 0 means no limit (PLUGS_REJECTED_RATE_LIMIT)")
	fs.IntVar(&f.rejectedBurst, "rejected-rate-limit-burst", envInt("PLUGS_REJECTED_RATE_LIMIT_BURST", 10),
		"rejected requests each source may leave receipts for at once above --rejected-rate-limit (PLUGS_REJECTED_RATE_LIMIT_BURST)")
	fs.StringVar(&f.egressAllow, "egress-allow", envOr("PLUGS_EGRESS_ALLOW", ""),
		"comma-separated CIDRs and host names deliveries may reach despite being private, for development (PLUGS_EGRESS_ALLOW)")
	fs.BoolVar(&f.trustForwarded, "trust-forwarded-headers", envOr("PLUGS_TRUST_FORWARDED_HEADERS", "") == "true",
		"rebuild the request URL from X-Forwarded-Proto/Host, behind a proxy that sets them (PLUGS_TRUST_FORWARDED_HEADERS)")
	if inProcess {
		fs.BoolVar(&f.allowUnverified, "allow-unverified", false,
			"accept requests carrying "+receiver.SkipVerificationHeader+": true without checking their signature, for development (PLUGS_ALLOW_UNVERIFIED)")
	} else {
		fs.StringVar(&f.publicURL, "public-url", envOr("PLUGS_PUBLIC_URL", ""),
			"base URL providers call, for schemes that sign the URL (PLUGS_PUBLIC_URL)")
	}
}

// load checks the TLS flags and loads their files, so a bad one stops the
// command before anything starts.
func (f *dpFlags) load(inProcess bool) error {
	if err := f.parseRoles(); err != nil {
		return err
	}
	if err := applyMemoryLimit(f.memoryLimit, slog.Default()); err != nil {
		return err
	}
	if f.rateLimit < 0 || f.rateBurst < 0 {
		return usageErr("--rate-limit and --rate-limit-burst must not be negative")
	}
	if f.rejectedRate < 0 || f.rejectedBurst < 0 {
		return usageErr("--rejected-rate-limit and --rejected-rate-limit-burst must not be negative")
	}
	if f.receiptRetention < 0 {
		return usageErr("--receipt-retention must not be negative")
	}
	if f.snapshotFile != "" {
		if _, err := snapshotfile.ParseKey(f.snapshotKey); err != nil {
			return usageErr("--snapshot-key: " + err.Error())
		}
	}
	if err := f.nats.load(); err != nil {
		return err
	}
	if f.natsReplicas == 0 {
		f.natsReplicas = 1
	}
	if f.natsReplicas < 1 || f.natsReplicas > 5 {
		return usageErr("--nats-replicas must be between 1 and 5")
	}
	cert, err := loadKeyPair("--ingest-tls-cert", "--ingest-tls-key", f.ingestCert, f.ingestKey)
	if err != nil {
		return err
	}
	if cert != nil {
		f.ingestTLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	if inProcess {
		return nil
	}
	if f.token == "" && f.controlTLS.cert == "" {
		return usageErr("give --dataplane-token, or --tls-cert and --tls-key signed by the control plane's --tls-client-ca")
	}
	if f.creds, err = f.controlTLS.credentials(); err != nil {
		return err
	}
	if !f.controlTLS.enabled() && !isLoopback(f.controlPlane) {
		slog.Warn("no --tls-ca or --tls-cert: the control plane sends configuration in plaintext to loopback only, and the token would cross the network in the clear")
	}
	return nil
}

// parseRoles reads --roles; plugs dev, which has no such flag, does both.
func (f *dpFlags) parseRoles() error {
	f.receive, f.forwards = false, false
	roles := splitList(f.roles)
	if len(roles) == 0 {
		roles = []string{"receive", "forward"}
	}
	for _, r := range roles {
		switch r {
		case "receive":
			f.receive = true
		case "forward":
			f.forwards = true
		default:
			return usageErr("--roles: unknown role %q; use receive, forward or both", r)
		}
	}
	return nil
}

// refuseBypass reports, loudly, a verification bypass asked of a data plane
// that is not plugs dev, and ignores it.
func refuseBypass(log *slog.Logger) {
	if v := os.Getenv("PLUGS_ALLOW_UNVERIFIED"); v != "" && v != "false" {
		log.Error("PLUGS_ALLOW_UNVERIFIED is ignored: the verification bypass exists only in plugs dev; every webhook is verified")
	}
}

type dataPlane struct {
	srv       *dpserver.Server
	conn      *grpc.ClientConn
	nats      *backbone.Conn
	forwarder *forward.Forwarder
	receipts  *receipts.Recorder
	// attempts publishes the delivery log; stopAttempts ends it once the
	// forwarder has stopped.
	attempts     *forward.AttemptLog
	stopAttempts context.CancelFunc
	// metrics serves /metrics, nil when --metrics-addr is empty; it
	// stops last, so a final scrape sees the shutdown.
	metrics *http.Server
	pprof   *http.Server
	cancel  context.CancelFunc
	done    chan struct{}
}

func (d *dataPlane) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.srv.Stop(ctx)
	d.cancel()
	<-d.done
	d.forwarder.Stop()
	<-d.receipts.Done() // what the drained requests recorded is published
	d.stopAttempts()
	<-d.attempts.Done() // and the attempts finished while stopping
	_ = d.conn.Close()
	d.nats.Close()
	for _, aside := range []*http.Server{d.pprof, d.metrics} {
		if aside != nil {
			_ = aside.Shutdown(ctx)
		}
	}
}

// serveAside serves h on addr, a listener kept apart from the public
// ingest one, until Shutdown. A CPU profile takes 30 s by default, so
// writes may take a while.
func serveAside(flagName, addr string, h http.Handler, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener stopped", "flag", flagName, "error", err)
		}
	}()
	log.Info("listening", "flag", flagName, "addr", ln.Addr().String())
	return srv, nil
}

// startDataPlane runs a data plane; f must have been loaded, or have creds
// set by plugs dev.
func startDataPlane(ctx context.Context, f *dpFlags) (*dataPlane, error) {
	conn, err := grpc.NewClient(f.controlPlane,
		grpc.WithTransportCredentials(f.creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxConfigMsg)))
	if err != nil {
		return nil, fmt.Errorf("dial control plane: %w", err)
	}
	store := &snapshot.Store{}
	log := slog.Default()
	persist, err := restoreSnapshot(f, store, log)
	if err != nil {
		conn.Close()
		return nil, err
	}
	nc, err := backbone.Connect(ctx, f.nats.options("plugs-dataplane "+f.nodeID))
	if err != nil {
		conn.Close()
		return nil, err
	}
	go ensureStreams(ctx, nc, f.streamOptions(), log)
	events := &backbone.EventStore{JS: nc.JS, Window: store.DedupWindow, GroupCommit: f.groupCommit}
	if f.allowUnverified {
		log.Warn("verification bypass on: requests with " + receiver.SkipVerificationHeader + ": true are accepted unsigned (development only)")
	}
	reg := f.metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	m := metrics.NewDataPlane(reg)
	guard, err := egress.NewGuard(splitList(f.egressAllow))
	if err != nil {
		conn.Close()
		nc.Close()
		return nil, usageErr("--egress-allow: " + err.Error())
	}
	// Providers' keys (certificate URLs, key sets) are fetched through the
	// same guard as deliveries.
	keys := verify.NewFetcher(verify.FetcherOptions{Client: guard.Client(verify.DefaultFetchTimeout), Log: log})
	popts := pipeline.Options{Log: log, AllowUnverified: f.allowUnverified,
		Limits: ratelimit.New(f.rateLimit, f.rateBurst), Observer: m, Tracing: f.tracing, Keys: keys}
	if b := ratelimit.NewBudget(f.rejectedRate, f.rejectedBurst, 0); b != nil {
		popts.Rejections = b // a nil *Budget in the interface would not be nil
	}
	// Secrets delivered by handshakes (Asana) go to the control plane over
	// the configuration connection.
	cc := &configclient.Client{
		Conn:     conn,
		Token:    f.token,
		Node:     &plugsv1.Node{Id: f.nodeID, Zone: f.zone, Build: build.version},
		Store:    store,
		Log:      slog.Default(),
		Persist:  persist,
		Observer: m,
	}
	popts.Secrets = cc
	p := pipeline.New(store, events, popts)
	recorder := receipts.New(nc.JS, 0, log)
	rc := receiver.New(p, receiver.Options{PublicURL: f.publicURL, TrustForwardedHeaders: f.trustForwarded, Log: log,
		Receipts: recorder, NodeID: f.nodeID})
	// A forwarding-only data plane still serves /healthz and /readyz.
	var ingest interface{ Register(*http.ServeMux) }
	if f.receive {
		ingest = rc
	}
	srv, err := dpserver.Start(dpserver.Config{Addr: f.ingestAddr, Store: store, Ingest: ingest, Backbone: nc, Log: log, TLS: f.ingestTLS})
	if err != nil {
		conn.Close()
		nc.Close()
		return nil, err
	}
	var metricsSrv, pprofSrv *http.Server
	if f.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler(reg))
		if metricsSrv, err = serveAside("--metrics-addr", f.metricsAddr, mux, log); err != nil {
			srv.Stop(ctx)
			conn.Close()
			nc.Close()
			return nil, err
		}
	}
	if f.pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		if pprofSrv, err = serveAside("--pprof-addr", f.pprofAddr, mux, log); err != nil {
			srv.Stop(ctx)
			conn.Close()
			nc.Close()
			return nil, err
		}
	}
	// The delivery log outlives the forwarder's context: attempts under
	// way when the data plane stops are finished, and logged, after it.
	attempts := forward.NewAttemptLog(nc.JS, f.nodeID, 0, log)
	attemptsCtx, stopAttempts := context.WithCancel(context.WithoutCancel(ctx))
	go attempts.Run(attemptsCtx)
	m.WatchSpools(reg, map[string]metrics.Spool{"receipts": recorder.Verified(), "unverified_receipts": recorder.Unverified(), "attempts": attempts})
	fwd := forward.New(nc.JS, snapshot.Routes{Store: store}, forward.Options{Guard: guard, Log: log, Tracing: f.tracing,
		OnAttempt: func(a forward.Attempt) { m.Attempt(a); attempts.Record(a) }, OnCircuit: m.Circuit})
	runCtx, cancel := context.WithCancel(ctx)
	d := &dataPlane{srv: srv, conn: conn, nats: nc, forwarder: fwd, receipts: recorder, attempts: attempts, stopAttempts: stopAttempts,
		metrics: metricsSrv, pprof: pprofSrv, cancel: cancel, done: make(chan struct{})}
	go recorder.Run(runCtx)
	if f.forwards {
		go runForwarder(runCtx, fwd, store, log)
		go m.PollBacklog(runCtx, nc.JS, 15*time.Second, log)
	}

	go func() { defer close(d.done); _ = cc.Run(runCtx) }()
	return d, nil
}

func runDataPlane(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("dataplane", "[flags]", `
Runs a data plane: it takes its configuration from a control plane
(--controlplane), receives webhooks on --ingest-addr, stores them in NATS
JetStream (--nats-url) and forwards them to destinations; /metrics is on
--metrics-addr.`)
	fs := cl.settings
	var f dpFlags
	var tf traceFlags
	f.register(fs, ":8080", false)
	tf.register(fs)
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if err := f.load(false); err != nil {
		return err
	}
	refuseBypass(slog.Default())
	tp, err := tf.start(ctx, tracing.ServiceDataPlane)
	if err != nil {
		return err
	}
	defer stopTracing(tp) // after the data plane, whose last attempts it exports
	f.tracing = tp.Tracers()
	dp, err := startDataPlane(ctx, &f)
	if err != nil {
		return portTaken(err, fs)
	}
	defer dp.stop()
	<-ctx.Done()
	return nil
}

// restoreSnapshot loads the persisted configuration, if one is configured,
// and returns the function that keeps it current.
func restoreSnapshot(f *dpFlags, store *snapshot.Store, log *slog.Logger) (func(*snapshot.Config) error, error) {
	if f.snapshotFile == "" {
		return nil, nil
	}
	key, err := snapshotfile.ParseKey(f.snapshotKey)
	if err != nil {
		return nil, usageErr("--snapshot-key: " + err.Error())
	}
	switch cfg, err := snapshotfile.Load(f.snapshotFile, key); {
	case err == nil:
		store.Swap(cfg)
		log.Info("serving the persisted configuration until the control plane answers", "version", cfg.Version, "sources", len(cfg.Sources))
	case errors.Is(err, snapshotfile.ErrNoSnapshot):
	case errors.Is(err, snapshotfile.ErrInsecureFile):
		return nil, err
	default:
		log.Warn("persisted configuration ignored", "file", f.snapshotFile, "error", err)
	}
	return func(c *snapshot.Config) error { return snapshotfile.Save(f.snapshotFile, key, c) }, nil
}

// streamOptions are the streams' settings from the flags.
func (f *dpFlags) streamOptions() backbone.StreamOptions {
	return backbone.StreamOptions{Replicas: f.natsReplicas, ReceiptRetention: f.receiptRetention, GroupCommit: f.groupCommit,
		ReceiptMaxBytes: streamLimit(f.receiptStreamMax), UnverifiedReceiptMaxBytes: streamLimit(f.unverifiedStreamMax)}
}

// ensureStreams creates the backbone's streams, retrying until it can: a
// data plane starts (and answers 503) while NATS is still coming up.
func ensureStreams(ctx context.Context, nc *backbone.Conn, opts backbone.StreamOptions, log *slog.Logger) {
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
		err := backbone.EnsureStreams(ctx, nc.JS, opts)
		if err == nil {
			return
		}
		log.Warn("backbone streams not ready", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// runForwarder starts forwarding once a configuration is loaded: the
// router acknowledges each event after routing it to the destinations it
// knows, so it must not run before it knows them.
func runForwarder(ctx context.Context, fwd *forward.Forwarder, store *snapshot.Store, log *slog.Logger) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !store.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	if err := fwd.Run(ctx); err != nil && ctx.Err() == nil {
		log.Error("forwarder stopped", "error", err)
	}
}
