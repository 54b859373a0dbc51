package config_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

const dpToken = "dp-token-for-distribution-tests"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// controlPlane is an in-process control plane on a database.
type controlPlane struct {
	srv *server.Server
	db  *store.DB
	kr  *secrets.Keyring
}

func startControlPlane(t testing.TB, db *store.DB, kr *secrets.Keyring, grpcAddr string) *controlPlane {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: grpcAddr, HTTPAddr: "127.0.0.1:0", PublicIngestURL: "http://ingest.test",
		DataPlaneTokens: []string{dpToken}, Log: quiet, PollInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{srv: srv, db: db, kr: kr}
	t.Cleanup(cp.stop)
	return cp
}

func (cp *controlPlane) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp.srv.Stop(ctx)
}

func newKeyring(t testing.TB) *secrets.Keyring {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// apiClient is a tenant's view of a control plane's source API.
func apiClient(t testing.TB, cp *controlPlane, tenant string) (plugsv1.SourceServiceClient, context.Context) {
	t.Helper()
	_, key, err := auth.Bootstrap(context.Background(), cp.db.Client, tenant, "k")
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, cp.srv.GRPCAddr)
	return plugsv1.NewSourceServiceClient(conn), metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// recorder is a connection that keeps every configuration response its
// stream receives.
type recorder struct {
	grpc.ClientConnInterface
	mu    sync.Mutex
	resps []*plugsv1.StreamConfigResponse
	sizes []int
}

func (r *recorder) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := r.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &recordingStream{ClientStream: cs, r: r}, nil
}

func (r *recorder) responses() []*plugsv1.StreamConfigResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*plugsv1.StreamConfigResponse(nil), r.resps...)
}

type recordingStream struct {
	grpc.ClientStream
	r *recorder
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if resp, ok := m.(*plugsv1.StreamConfigResponse); ok && err == nil {
		s.r.mu.Lock()
		s.r.resps = append(s.r.resps, proto.Clone(resp).(*plugsv1.StreamConfigResponse))
		// The gRPC message on the wire: a 5-byte prefix and the payload.
		s.r.sizes = append(s.r.sizes, 5+proto.Size(resp))
		s.r.mu.Unlock()
	}
	return err
}

// dataPlane is a configuration client with its store.
type dataPlane struct {
	id     string
	store  *snapshot.Store
	rec    *recorder
	cancel context.CancelFunc
	done   chan struct{}
}

func startDataPlane(t testing.TB, addr, id string, store *snapshot.Store) *dataPlane {
	t.Helper()
	if store == nil {
		store = &snapshot.Store{}
	}
	rec := &recorder{ClientConnInterface: dial(t, addr)}
	ctx, cancel := context.WithCancel(context.Background())
	d := &dataPlane{id: id, store: store, rec: rec, cancel: cancel, done: make(chan struct{})}
	cc := &configclient.Client{Conn: rec, Token: dpToken, Node: &plugsv1.Node{Id: id, Zone: "test"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	go func() { defer close(d.done); _ = cc.Run(ctx) }()
	t.Cleanup(d.stop)
	return d
}

func (d *dataPlane) stop() {
	d.cancel()
	<-d.done
}

func (d *dataPlane) version() string {
	if c := d.store.Load(); c != nil {
		return c.Version
	}
	return ""
}

// reference is the configuration at the database's newest revision, built
// from nothing, to compare data planes against.
func reference(t testing.TB, cp *controlPlane) (string, map[string]*plugsv1.SourceConfig) {
	v, srcs, _ := referenceAll(t, cp)
	return v, srcs
}

// referenceAll is reference with the destinations too.
func referenceAll(t testing.TB, cp *controlPlane) (string, map[string]*plugsv1.SourceConfig, map[string]*plugsv1.DestinationConfig) {
	t.Helper()
	c := config.NewCache(&config.Snapshotter{Client: cp.db.Client, Catalog: templates.MustBuiltin(), Keyring: cp.kr, Log: quiet}, cp.db.Dialect, 0)
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := c.UpdateFrom(config.Held{Revision: -1})
	out := map[string]*plugsv1.SourceConfig{}
	dests := map[string]*plugsv1.DestinationConfig{}
	if u == nil {
		return config.Version(c.Revision()), out, dests
	}
	for _, sc := range u.Upserts {
		out[sc.GetId()] = sc
	}
	for _, d := range u.Destinations {
		dests[d.GetId()] = d
	}
	return config.Version(u.Revision), out, dests
}

// sameDestinations reports how d's destinations differ from ref.
func sameDestinations(d *dataPlane, ref map[string]*plugsv1.DestinationConfig) string {
	cfg := d.store.Load()
	if len(cfg.Destinations) != len(ref) {
		return "destination count differs"
	}
	for id, want := range ref {
		if got := cfg.Destinations[id]; got == nil || !proto.Equal(got, want) {
			return "destination " + id + " differs"
		}
	}
	return ""
}

// sameAsReference reports how d's configuration differs from ref.
func sameAsReference(d *dataPlane, version string, ref map[string]*plugsv1.SourceConfig) string {
	cfg := d.store.Load()
	if cfg == nil || cfg.Version != version {
		return "version " + d.version() + ", want " + version
	}
	if len(cfg.Sources) != len(ref) {
		return "source count differs"
	}
	for id, want := range ref {
		got := cfg.Sources[id]
		if got == nil {
			return "missing source " + id
		}
		if !proto.Equal(got.Config, want) {
			return "source " + id + " differs"
		}
	}
	return ""
}
