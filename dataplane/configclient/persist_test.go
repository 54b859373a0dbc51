package configclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/snapshotfile"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// TestPersistWritesAppliedConfiguration runs a data plane with persistence
// against a real control plane: each configuration applied lands in the
// snapshot file, and a restart could serve it from there.
func TestPersistWritesAppliedConfiguration(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Start(ctx, server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", PublicIngestURL: "http://x",
		DataPlaneTokens: []string{"dp-token-for-test"}, Log: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Stop(c)
	}()
	_, apiKey, err := auth.Bootstrap(ctx, db.Client, "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	path := filepath.Join(t.TempDir(), "snapshot.bin")
	key := make([]byte, snapshotfile.KeySize)
	key[0] = 1
	store := &snapshot.Store{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: "dp-token-for-test", Node: &plugsv1.Node{Id: "dp-persist"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Persist: func(cfg *snapshot.Config) error { return snapshotfile.Save(path, key, cfg) }}
	go func() { defer close(done); _ = cc.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	// loaded reports whether the file holds the version the store serves.
	loaded := func(check func(*snapshot.Config) bool) func() bool {
		return func() bool {
			cur := store.Load()
			got, err := snapshotfile.Load(path, key)
			return cur != nil && err == nil && got.Version == cur.Version && check(got)
		}
	}
	waitFor(t, "first snapshot on disk", loaded(func(*snapshot.Config) bool { return true }))

	api := plugsv1.NewSourceServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+apiKey)
	src, err := api.CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "gh", TemplateId: "github", Secret: "github-secret-0123456789",
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "source in the snapshot on disk", loaded(func(c *snapshot.Config) bool {
		s := c.Source(src.GetId())
		return s != nil && len(s.Config.GetSecrets()) == 1 && string(s.Config.GetSecrets()[0].GetValue()) == "github-secret-0123456789"
	}))

	// What a restart does: load the file into a fresh store.
	got, err := snapshotfile.Load(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := store.Load(); got.Version != want.Version || len(got.Sources) != len(want.Sources) {
		t.Fatalf("file holds version %q with %d sources, store %q with %d", got.Version, len(got.Sources), want.Version, len(want.Sources))
	}
	if got.Source(src.GetId()).Verifier == nil {
		t.Fatal("loaded source not compiled")
	}
}

// fakeControlPlane sends one full configuration per version given, each after
// the ACK of the one before, as the real control plane does, and reports each
// ACK.
type fakeControlPlane struct {
	plugsv1.UnimplementedConfigDiscoveryServiceServer
	versions chan string
	acks     chan *plugsv1.StreamConfigRequest
}

func (f *fakeControlPlane) StreamConfig(st grpc.BidiStreamingServer[plugsv1.StreamConfigRequest, plugsv1.StreamConfigResponse]) error {
	if _, err := st.Recv(); err != nil { // hello
		return err
	}
	for {
		var v string
		select {
		case v = <-f.versions:
		case <-st.Context().Done():
			return st.Context().Err()
		}
		if err := st.Send(&plugsv1.StreamConfigResponse{VersionInfo: v, Nonce: "n" + v, Full: true}); err != nil {
			return err
		}
		ack, err := st.Recv()
		if err != nil {
			return err
		}
		select {
		case f.acks <- ack:
		case <-st.Context().Done():
			return st.Context().Err()
		}
	}
}

func startFake(t *testing.T) (*fakeControlPlane, *grpc.ClientConn) {
	t.Helper()
	f := &fakeControlPlane{versions: make(chan string), acks: make(chan *plugsv1.StreamConfigRequest)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	plugsv1.RegisterConfigDiscoveryServiceServer(gs, f)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return f, conn
}

// push sends version v and returns its ACK.
func (f *fakeControlPlane) push(t *testing.T, v string) *plugsv1.StreamConfigRequest {
	t.Helper()
	timeout := time.After(15 * time.Second)
	select {
	case f.versions <- v:
	case <-timeout:
		t.Fatalf("version %s not taken", v)
	}
	select {
	case ack := <-f.acks:
		return ack
	case <-timeout:
		t.Fatalf("no ACK for version %s", v)
	}
	return nil
}

// TestPersistNeverDelaysTheACK blocks the first write and checks the data
// plane keeps acknowledging, that only the latest version is written once the
// write is released, and that Run waits for that write.
func TestPersistNeverDelaysTheACK(t *testing.T) {
	f, conn := startFake(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	release := make(chan struct{})
	var mu sync.Mutex
	var written []string
	persist := func(cfg *snapshot.Config) error {
		if cfg.Version == "1" {
			<-release
		}
		mu.Lock()
		defer mu.Unlock()
		written = append(written, cfg.Version)
		return nil
	}
	lastWritten := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(written) }

	store := &snapshot.Store{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: "x", Node: &plugsv1.Node{Id: "dp"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Persist: persist}
	go func() { defer close(done); _ = cc.Run(ctx) }()

	// Version 1's write blocks; versions 2..5 are still applied and ACKed.
	for i := 1; i <= 5; i++ {
		v := strconv.Itoa(i)
		ack := f.push(t, v)
		if ack.GetErrorDetail() != nil || ack.GetVersionInfo() != v {
			t.Fatalf("ACK for %s: %v", v, ack)
		}
	}
	if store.Load().Version != "5" {
		t.Fatalf("serving %q, want 5", store.Load().Version)
	}
	if w := lastWritten(); len(w) != 0 {
		t.Fatalf("written %v while the first write was blocked", w)
	}
	close(release)
	waitFor(t, "latest version written", func() bool {
		w := lastWritten()
		return len(w) > 0 && w[len(w)-1] == "5"
	})
	// Coalesced: 1, then at most one in between (offered just after its
	// ACK, so it may still be the latest when 1's write ends), then 5.
	if w := lastWritten(); w[0] != "1" || len(w) > 3 || !slices.IsSorted(w) {
		t.Fatalf("written %v, want 1, the latest, and at most one in between", w)
	}
	cancel()
	<-done
}

// TestPersistFailureStillACKs checks a failing write is only logged: the
// configuration is ACKed and served.
func TestPersistFailureStillACKs(t *testing.T) {
	f, conn := startFake(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	attempts := make(chan string, 10)
	store := &snapshot.Store{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: "x", Node: &plugsv1.Node{Id: "dp"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Persist: func(cfg *snapshot.Config) error { attempts <- cfg.Version; return errors.New("disk full") }}
	go func() { defer close(done); _ = cc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ack := f.push(t, "1")
	if ack.GetErrorDetail() != nil || ack.GetVersionInfo() != "1" || store.Load().Version != "1" {
		t.Fatalf("ACK %v, serving %q", ack, store.Load().Version)
	}
	select {
	case v := <-attempts:
		if v != "1" {
			t.Fatalf("persisted %q", v)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no write attempted")
	}
	// The stream is still up: the next version is applied too.
	if ack := f.push(t, "2"); ack.GetErrorDetail() != nil || store.Load().Version != "2" {
		t.Fatalf("ACK %v, serving %q", ack, store.Load().Version)
	}
}

// TestRunWaitsForTheLastWrite checks a clean shutdown leaves the last
// configuration applied on disk: Run returns only after its write.
func TestRunWaitsForTheLastWrite(t *testing.T) {
	f, conn := startFake(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), "snapshot.bin")
	key := make([]byte, snapshotfile.KeySize)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var finished atomic.Bool
	store := &snapshot.Store{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: "x", Node: &plugsv1.Node{Id: "dp"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Persist: func(cfg *snapshot.Config) error {
			started <- struct{}{}
			<-release
			err := snapshotfile.Save(path, key, cfg)
			finished.Store(true)
			return err
		}}
	go func() { defer close(done); _ = cc.Run(ctx) }()

	f.push(t, "9")
	<-started
	// Released only after the stop: a Run that did not wait would return
	// while the write is still blocked.
	cancel()
	close(release)
	<-done
	if !finished.Load() {
		t.Fatal("Run returned before the write was over")
	}
	got, err := snapshotfile.Load(path, key)
	if err != nil || got.Version != "9" {
		t.Fatalf("after Run: %v, %v", got, err)
	}
}
