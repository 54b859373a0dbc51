// Package server runs the control plane: one gRPC listener with every
// service, and one HTTP listener with the REST gateway, which dials the gRPC
// listener over loopback so REST and gRPC share every interceptor. With a
// TLS configuration both listeners serve TLS.
package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/plugshq/plugs/console"
	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/deliveries"
	"github.com/plugshq/plugs/controlplane/listenfeed"
	"github.com/plugshq/plugs/controlplane/openapi"
	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/replay"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/streamindex"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/ratelimit"
	"github.com/plugshq/plugs/internal/tracing"
	"github.com/plugshq/plugs/templates"
)

// maxRESTBody bounds admin API request bodies.
const maxRESTBody = 1 << 20

// DefaultMaxConnectionIdle is how long a gRPC connection without calls is
// kept open.
const DefaultMaxConnectionIdle = 5 * time.Minute

// keepaliveMinTime is the shortest keepalive ping interval a client may
// use; maxConcurrentStreams bounds the calls in flight on one connection.
const (
	keepaliveMinTime     = 10 * time.Second
	maxConcurrentStreams = 1000
)

// Config is what the control plane needs to run.
type Config struct {
	DB      *store.DB
	Keyring *secrets.Keyring
	Catalog *templates.Catalog
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free port.
	GRPCAddr string
	HTTPAddr string
	// PublicIngestURL is the base URL of the data planes, for webhook_url.
	PublicIngestURL string
	// IngestURL is the base URL this control plane reaches a data plane's
	// ingest endpoint at, to send test events; empty leaves SendTestEvent
	// answering FAILED_PRECONDITION.
	IngestURL string
	// AllowHTTPHosts are host names destinations may reach over plain
	// http://, for development; every other destination needs https://.
	AllowHTTPHosts []string
	// Metrics, when set, gets the control plane's series, served at
	// /metrics on MetricsAddr: plain HTTP on a listener of its own, kept
	// off the API's ports, which Prometheus scrapes like any exporter.
	// Empty serves them nowhere unless MetricsOnREST is set.
	Metrics     *prometheus.Registry
	MetricsAddr string
	// MetricsOnREST serves /metrics on the REST listener, to anyone and
	// without a key: plugs dev only, where every port is on loopback.
	MetricsOnREST bool
	// APIRateLimit bounds each API key's calls, gRPC and REST together;
	// nil means no limit.
	APIRateLimit *plugsv1.RateLimit
	// UnauthenticatedRateLimit bounds the calls each client address (a
	// REST caller's own, not the gateway's) makes without valid
	// credentials; nil means no limit.
	UnauthenticatedRateLimit *plugsv1.RateLimit
	// MaxConnectionIdle closes a gRPC connection without calls for that
	// long; 0 means DefaultMaxConnectionIdle.
	MaxConnectionIdle time.Duration
	// DataPlaneTokens are accepted on the configuration stream besides the
	// tokens stored by `plugs tokens create --dataplane`.
	DataPlaneTokens []string
	// Replica names this control-plane process in data-plane status;
	// empty means the host name.
	Replica string
	// PollInterval is how often the revision is polled, besides
	// PostgreSQL notifications; zero means 2 s.
	PollInterval time.Duration
	// JetStream reaches the backbone, where the destinations' dead letters
	// and deliveries are kept and the receipts and delivery attempts
	// arrive; nil leaves ListDeadLetters, RedriveDeadLetters and
	// RetryDelivery answering FAILED_PRECONDITION and indexes no new
	// receipts or attempts. The control plane only reads the streams (and
	// queues deliveries again): the data planes create them.
	JetStream jetstream.JetStream
	// ReceiptRetention is how long indexed receipts are kept, by receive
	// time, and the delivery log, by attempt time; zero means
	// backbone.DefaultReceiptRetention. Set it to the data planes' receipts
	// stream retention (the attempts stream's too): the index cannot show
	// what the stream dropped before it was indexed, and keeping rows past
	// it only costs space.
	ReceiptRetention time.Duration
	// ReceiptIndexMaxBytes and UnverifiedReceiptIndexMaxBytes bound the
	// receipts index, all receipts and those of unverified requests alone,
	// by their encoded size: past them the oldest go, unverified ones
	// first. Zero means no bound.
	ReceiptIndexMaxBytes, UnverifiedReceiptIndexMaxBytes int64
	// TLS, when set, serves both listeners over TLS with its Certificates
	// (at least one; GetCertificate alone is not enough, because the gateway
	// pins the certificates it is given). Its ClientCAs, when set, verify a
	// client certificate if one is presented (tls.VerifyClientCertIfGiven
	// unless ClientAuth says otherwise) on the gRPC listener, and a verified
	// certificate authenticates a data plane without a token. nil serves
	// plaintext, which data planes may use over loopback only.
	TLS *tls.Config
	// Tracing, when set, traces every gRPC call (REST ones included, as
	// they arrive through the gateway), continuing the caller's trace; nil
	// traces nothing.
	Tracing trace.TracerProvider
	Log     *slog.Logger
}

// Server is a running control plane.
type Server struct {
	GRPCAddr string
	HTTPAddr string
	// MetricsAddr is where /metrics is served; empty without
	// Config.MetricsAddr.
	MetricsAddr string

	grpc   *grpc.Server
	http   *http.Server
	conn   *grpc.ClientConn
	health *health.Server
	// loopbackCreds dial the gRPC listener from this process.
	loopbackCreds credentials.TransportCredentials
	// shutdown ends the configuration streams when the server stops.
	shutdown     chan struct{}
	shutdownOnce sync.Once
	// stopBackground ends the cache follower, the revision watch, the
	// status writer, the receipts and delivery-log indexers and the bulk
	// replays; background is done when they have.
	stopBackground context.CancelFunc
	background     sync.WaitGroup
	// Cache is the configuration the streams serve.
	Cache *config.Cache

	// metrics serves /metrics; nil without Config.MetricsAddr.
	metrics *http.Server
}

// Start listens on both addresses and serves until Stop or ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	grpcTLS, httpTLS, loopbackCreds, err := serverTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	snap := &config.Snapshotter{Client: cfg.DB.Client, Catalog: cfg.Catalog, Keyring: cfg.Keyring, Log: log}
	cache := config.NewCache(snap, cfg.DB.Dialect, 0)
	if err := cache.Load(ctx); err != nil {
		return nil, fmt.Errorf("server: load configuration: %w", err)
	}
	replica := cfg.Replica
	if replica == "" {
		replica, _ = os.Hostname()
	}
	status := config.NewDBStatus(cfg.DB.Client, replica, 0, log)

	gl, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("server: gRPC listen: %w", err)
	}
	hl, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		gl.Close()
		return nil, fmt.Errorf("server: HTTP listen: %w", err)
	}
	gateway := auth.NewGateway()
	in := &auth.Interceptor{
		Keys:            &auth.APIKeys{Client: cfg.DB.Client},
		DataPlanes:      &auth.DataPlanes{Client: cfg.DB.Client, Static: cfg.DataPlaneTokens},
		Limits:          &auth.KeyLimits{Buckets: ratelimit.New(0, 0), Limit: cfg.APIRateLimit},
		Unauthenticated: &auth.AddressLimits{Limit: cfg.UnauthenticatedRateLimit},
		Gateway:         gateway,
		Log:             log,
	}
	unary, stream := []grpc.UnaryServerInterceptor{in.Unary}, []grpc.StreamServerInterceptor{in.Stream}
	var cpMetrics *metrics.ControlPlane
	if cfg.Metrics != nil {
		// Outside authentication, so refused calls are counted too.
		cpMetrics = metrics.NewControlPlane(cfg.Metrics, metrics.ControlPlaneState{
			Revision: cache.Revision, DataPlanes: status.ConnectedCount, Withheld: cache.Withheld,
		})
		unary = append([]grpc.UnaryServerInterceptor{cpMetrics.GRPC.UnaryServerInterceptor()}, unary...)
		stream = append([]grpc.StreamServerInterceptor{cpMetrics.GRPC.StreamServerInterceptor()}, stream...)
	}
	// First of all, so every line logged for a call carries its id.
	unary = append([]grpc.UnaryServerInterceptor{requestIDUnary}, unary...)
	stream = append([]grpc.StreamServerInterceptor{requestIDStream}, stream...)
	idle := cfg.MaxConnectionIdle
	if idle <= 0 {
		idle = DefaultMaxConnectionIdle
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(4 << 20),
		// A client pinging more often than this is sent away
		// (too_many_pings); gRPC clients cannot ask for less than 10 s.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: idle,
			// A data plane gone without closing its configuration
			// stream is noticed within a minute and a half.
			Time:    time.Minute,
			Timeout: 20 * time.Second,
		}),
		// Per connection; the REST gateway's one connection carries
		// every REST call, which wait for a stream past this.
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
	}
	if grpcTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(grpcTLS)))
	}
	if cfg.Tracing != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(cfg.Tracing),
			otelgrpc.WithPropagators(tracing.Propagator),
			// A configuration stream lasts as long as its data plane, and
			// health checks come every few seconds: neither says anything
			// as a span.
			otelgrpc.WithFilter(filters.None(
				filters.HealthCheck(),
				filters.ServiceName(plugsv1.ConfigDiscoveryService_ServiceDesc.ServiceName),
				// A listen stream lasts as long as a developer's session.
				filters.ServiceName(plugsv1.ListenService_ServiceDesc.ServiceName),
			)),
		)))
	}
	gs := grpc.NewServer(opts...)
	sources := &api.Sources{
		Client: cfg.DB.Client, Catalog: cfg.Catalog, Keyring: cfg.Keyring,
		PublicIngestURL: cfg.PublicIngestURL, Log: log, Rollout: &api.Rollout{Client: cfg.DB.Client},
		TestEvents: &api.TestEvents{Sources: cache, IngestURL: cfg.IngestURL}, Problems: cache,
	}
	plugsv1.RegisterSourceServiceServer(gs, sources)
	plugsv1.RegisterDataPlaneServiceServer(gs, &api.DataPlanes{Client: cfg.DB.Client, Log: log})
	plugsv1.RegisterTemplateServiceServer(gs, &api.Templates{Catalog: cfg.Catalog})
	plugsv1.RegisterApiKeyServiceServer(gs, &api.APIKeys{Client: cfg.DB.Client, Log: log})
	destinations := &api.Destinations{
		Client: cfg.DB.Client, Keyring: cfg.Keyring, AllowHTTPHosts: cfg.AllowHTTPHosts, Problems: cache, Log: log,
	}
	plugsv1.RegisterDestinationServiceServer(gs, &api.DestinationService{
		Destinations: destinations,
		DeadLetters:  &api.DeadLetters{Client: cfg.DB.Client, JS: cfg.JetStream, Log: log},
		Deliveries:   &api.Deliveries{Client: cfg.DB.Client, JS: cfg.JetStream, Log: log},
	})
	plugsv1.RegisterWebhookRegistrationServiceServer(gs, &api.Webhooks{Destinations: destinations})
	replayer := &replay.Replayer{
		Sources: cache, JetStream: cfg.JetStream, PublicIngestURL: cfg.PublicIngestURL, Node: "controlplane " + replica, Log: log,
	}
	// Bulk replays: two operations at a time on this replica, each paced
	// to replay.DefaultRate receipts per second, taken over from a replica
	// quiet for replay.DefaultStaleAfter.
	replays := &replay.Runner{Client: cfg.DB.Client, Replayer: replayer, Owner: replica, Log: log}
	plugsv1.RegisterStatsServiceServer(gs, &api.Stats{Client: cfg.DB.Client, JS: cfg.JetStream, Log: log})
	plugsv1.RegisterReceiptServiceServer(gs, &api.Receipts{Client: cfg.DB.Client, Log: log, Replayer: replayer, Replays: replays})
	shutdown := make(chan struct{})
	listen := &api.Listen{Client: cfg.DB.Client, Changes: cache, Shutdown: shutdown, Log: log}
	if cfg.JetStream != nil {
		listen.Feed = &listenfeed.Feed{JS: cfg.JetStream, Log: log}
	}
	plugsv1.RegisterListenServiceServer(gs, listen)
	plugsv1.RegisterConfigDiscoveryServiceServer(gs, &config.Server{
		Cache:    cache,
		Status:   status,
		Shutdown: shutdown,
		Secrets:  sources,
		Log:      log,
	})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	if cpMetrics != nil {
		cpMetrics.GRPC.InitializeMetrics(gs)
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{
		GRPCAddr:       gl.Addr().String(),
		HTTPAddr:       hl.Addr().String(),
		grpc:           gs,
		loopbackCreds:  loopbackCreds,
		health:         hs,
		shutdown:       shutdown,
		stopBackground: stopBackground,
		Cache:          cache,
	}
	store.Watch(bg, cfg.DB, cfg.PollInterval, log)
	// Without JetStream no receipt arrives, but those indexed before still
	// age out, so the indexer runs either way.
	indexer := &receipts.Indexer{DB: cfg.DB, JS: cfg.JetStream, Log: log, Settings: streamindex.Settings{Retention: cfg.ReceiptRetention,
		MaxBytes: cfg.ReceiptIndexMaxBytes, MaxExpendableBytes: cfg.UnverifiedReceiptIndexMaxBytes}}
	// The delivery log is kept as long as receipts, like its stream.
	attempts := &deliveries.Indexer{DB: cfg.DB, JS: cfg.JetStream, Settings: streamindex.Settings{Retention: cfg.ReceiptRetention}, Log: log}
	s.background.Add(5)
	go func() { defer s.background.Done(); cache.Follow(bg, cfg.DB.Revisions) }()
	go func() { defer s.background.Done(); status.Run(bg) }()
	// An indexer's Run fails only when it is set up wrong (a database of
	// a dialect it cannot write for): say so rather than index nothing.
	go func() {
		defer s.background.Done()
		if err := indexer.Run(bg); err != nil {
			log.Error("receipts not indexed", "error", err)
		}
	}()
	go func() {
		defer s.background.Done()
		if err := attempts.Run(bg); err != nil {
			log.Error("delivery attempts not indexed", "error", err)
		}
	}()
	go func() { defer s.background.Done(); _ = replays.Run(bg) }()
	go func() {
		if err := gs.Serve(gl); err != nil {
			log.Error("gRPC listener stopped", "error", err)
		}
	}()

	conn, err := grpc.NewClient(loopback(s.GRPCAddr), grpc.WithTransportCredentials(loopbackCreds))
	if err != nil {
		gs.Stop()
		hl.Close()
		return nil, fmt.Errorf("server: gateway dial: %w", err)
	}
	s.conn = conn
	mux := runtime.NewServeMux(
		// A call refused for its rate says when to come back, as HTTP does.
		runtime.WithOutgoingHeaderMatcher(func(key string) (string, bool) {
			switch key {
			case auth.RetryAfterHeader:
				return "Retry-After", true
			case requestIDHeader:
				return "X-Request-Id", true
			}
			return runtime.MetadataHeaderPrefix + key, true // the gateway's default
		}),
		// A REST caller's X-Request-Id reaches the call as its id, and its
		// trace context continues into the call's span.
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			for _, h := range []string{requestIDHeader, "traceparent", "tracestate"} {
				if strings.EqualFold(key, h) {
					return h, true
				}
			}
			// What only the gateway may say (the caller's address) is
			// never taken from the caller's Grpc-Metadata-… headers.
			if name, ok := runtime.DefaultHeaderMatcher(key); ok && !auth.Reserved(name) {
				return name, true
			}
			return "", false
		}),
		// The REST caller's address, for the limit on calls without
		// valid credentials, vouched for by the gateway's key.
		runtime.WithMetadata(gateway.Metadata),
		// JSON answers leave unset fields out, but for lists and counts;
		// a body that does not decode names its faulty field (restJSON).
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: newRESTJSON()}),
		runtime.WithErrorHandler(restErrorHandler),
	)
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		plugsv1.RegisterSourceServiceHandler,
		plugsv1.RegisterTemplateServiceHandler,
		plugsv1.RegisterApiKeyServiceHandler,
		plugsv1.RegisterDataPlaneServiceHandler,
		plugsv1.RegisterDestinationServiceHandler,
		plugsv1.RegisterWebhookRegistrationServiceHandler,
		plugsv1.RegisterReceiptServiceHandler,
		plugsv1.RegisterStatsServiceHandler,
		plugsv1.RegisterListenServiceHandler,
	} {
		if err := reg(ctx, mux, conn); err != nil {
			s.Stop(context.Background())
			hl.Close()
			return nil, fmt.Errorf("server: gateway: %w", err)
		}
	}
	root := http.NewServeMux()
	if cfg.Metrics != nil && cfg.MetricsOnREST {
		root.Handle("GET /metrics", metrics.Handler(cfg.Metrics))
	}
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	// The API's description is public, like the API's shape in the
	// repository: tools fetch it before they hold a key.
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document)
	})
	root.Handle("/v1/", http.MaxBytesHandler(mux, maxRESTBody))
	root.Handle("GET "+listenPath, endlessWrite(mux))
	// The admin console, on the API's origin; everything outside /v1.
	root.Handle("/", console.Handler())
	s.http = &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         httpTLS,
	}
	go func() {
		var err error
		if httpTLS != nil {
			// The certificates are in TLSConfig; ServeTLS also offers h2.
			err = s.http.ServeTLS(hl, "", "")
		} else {
			err = s.http.Serve(hl)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP listener stopped", "error", err)
		}
	}()
	if cfg.Metrics != nil && cfg.MetricsAddr != "" {
		if s.metrics, s.MetricsAddr, err = serveMetrics(cfg.MetricsAddr, cfg.Metrics, log); err != nil {
			s.Stop(context.Background())
			return nil, err
		}
	}
	log.Info("control plane listening", "grpc", s.GRPCAddr, "http", s.HTTPAddr, "metrics", s.MetricsAddr,
		"tls", cfg.TLS != nil, "client_ca", grpcTLS != nil && grpcTLS.ClientCAs != nil)
	return s, nil
}

// serverTLS derives the gRPC and REST listeners' TLS configurations from
// the one given, and the credentials this process dials its own gRPC
// listener with. A nil cfg means plaintext everywhere.
func serverTLS(cfg *tls.Config) (grpcTLS, httpTLS *tls.Config, loopbackCreds credentials.TransportCredentials, err error) {
	if cfg == nil {
		return nil, nil, insecure.NewCredentials(), nil
	}
	if len(cfg.Certificates) == 0 {
		return nil, nil, nil, errors.New("server: the TLS configuration has no certificate")
	}
	grpcTLS = cfg.Clone()
	if grpcTLS.MinVersion == 0 {
		grpcTLS.MinVersion = tls.VersionTLS12
	}
	if grpcTLS.ClientCAs != nil && grpcTLS.ClientAuth == tls.NoClientCert {
		// If given, not required: tenants and token-holding data planes
		// connect without a certificate.
		grpcTLS.ClientAuth = tls.VerifyClientCertIfGiven
	}
	// REST is for people and tools with API keys; asking them for a client
	// certificate would only make browsers prompt for one.
	httpTLS = grpcTLS.Clone()
	httpTLS.ClientAuth = tls.NoClientCert
	httpTLS.ClientCAs = nil

	pins := make([][]byte, 0, len(cfg.Certificates))
	for _, c := range cfg.Certificates {
		if len(c.Certificate) == 0 {
			return nil, nil, nil, errors.New("server: a TLS certificate has no certificate data")
		}
		pins = append(pins, c.Certificate[0])
	}
	loopbackCreds = credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS12,
		// The gateway dials 127.0.0.1, a name the certificate need not
		// carry, and the CA that signed it need not be in any pool here.
		// Instead of the usual chain and name checks, VerifyConnection pins
		// the listener to the exact certificates this server was given:
		// nothing else on that port can pass.
		InsecureSkipVerify: true, //nolint:gosec // pinned in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				for _, p := range pins {
					if bytes.Equal(cs.PeerCertificates[0].Raw, p) {
						return nil
					}
				}
			}
			return errors.New("server: the loopback gRPC listener presented a certificate other than this server's")
		},
		// No client certificate, ever: the gateway carries tenants' calls,
		// and a certificate would make every REST caller a data plane.
	})
	return grpcTLS, httpTLS, loopbackCreds, nil
}

// LoopbackCredentials are the transport credentials this process dials its
// own gRPC listener with, as the REST gateway does: plaintext without TLS,
// otherwise TLS that trusts exactly this server's certificates. plugs dev
// gives them to its in-process data plane.
func (s *Server) LoopbackCredentials() credentials.TransportCredentials {
	return s.loopbackCreds
}

// loopback turns a wildcard listen address into one the gateway can dial.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" || strings.HasPrefix(host, "[::]") {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Stop drains HTTP and gRPC within ctx, then closes them hard.
func (s *Server) Stop(ctx context.Context) {
	s.shutdownOnce.Do(func() { close(s.shutdown) })
	s.health.Shutdown()
	if s.http != nil {
		_ = s.http.Shutdown(ctx)
	}
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	s.stopBackground()
	s.background.Wait()
	if s.conn != nil {
		_ = s.conn.Close()
	}
	// Last, so a final scrape sees the shutdown.
	if s.metrics != nil {
		_ = s.metrics.Shutdown(ctx)
	}
}
