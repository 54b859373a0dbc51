package configclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// following is a control plane and a data plane's configuration client
// following it, until the test ends.
type following struct {
	srv   *server.Server
	conn  *grpc.ClientConn
	cc    *configclient.Client
	store *snapshot.Store
	// actx calls the API as a tenant.
	actx context.Context
}

func follow(t *testing.T) *following {
	t.Helper()
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
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Stop(c)
	})
	_, key, err := auth.Bootstrap(ctx, db.Client, "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	store := &snapshot.Store{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: "dp-token-for-test", Node: &plugsv1.Node{Id: "dp-1"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	go func() { defer close(done); _ = cc.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "first snapshot", store.Ready)
	return &following{srv: srv, conn: conn, cc: cc, store: store,
		actx: metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)}
}

func TestDataPlaneFollowsControlPlane(t *testing.T) {
	ctx := context.Background()
	f := follow(t)
	srv, store, actx := f.srv, f.store, f.actx
	api := plugsv1.NewSourceServiceClient(f.conn)
	src, err := api.CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "gh", TemplateId: "github", Secret: "github-secret-0123456789",
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "source in snapshot", func() bool { return store.Load().Source(src.GetId()) != nil })
	got := store.Load().Source(src.GetId())
	if string(got.Config.GetSecrets()[0].GetValue()) != "github-secret-0123456789" {
		t.Fatal("secret not delivered")
	}
	_, err = api.UpdateSource(actx, &plugsv1.UpdateSourceRequest{
		Source:     &plugsv1.Source{Id: src.GetId(), Status: plugsv1.Source_STATUS_DISABLED},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "source disabled, without its secrets", func() bool {
		got := store.Load().Source(src.GetId())
		return got != nil && got.Config.GetStatus() == plugsv1.Source_STATUS_DISABLED && len(got.Config.GetSecrets()) == 0
	})
	held := store.Load()

	// Fail-static: with the control plane gone the data plane keeps its
	// configuration.
	stopCtx, stopCancel := context.WithTimeout(ctx, 10*time.Second)
	defer stopCancel()
	srv.Stop(stopCtx)
	time.Sleep(50 * time.Millisecond) // let the client notice and start reconnecting
	if store.Load() != held {
		t.Fatal("configuration changed while the control plane was away")
	}
}

func TestBuildRejectsBadSourceAndKeepsBase(t *testing.T) {
	good := &plugsv1.SourceConfig{Id: "a", SignatureScheme: &plugsv1.SignatureScheme{
		Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_HEX,
		Header: "X-Signature", SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}},
	}}
	base, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{good}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := &plugsv1.SourceConfig{Id: "b", SignatureScheme: good.SignatureScheme,
		FieldMappings: &plugsv1.FieldMappings{EventId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$[?(@.x =="}}}}
	if _, err := snapshot.Build(base, "2", false, []*plugsv1.SourceConfig{bad}, nil); err == nil {
		t.Fatal("bad JSONPath compiled")
	}
	if len(base.Sources) != 1 || base.Version != "1" {
		t.Fatal("base modified")
	}
	next, err := snapshot.Build(base, "3", false, nil, []string{"a"})
	if err != nil || len(next.Sources) != 0 || len(base.Sources) != 1 {
		t.Fatalf("delta removal: %v", err)
	}
}

// A secret a handshake delivers goes from the data plane to the control
// plane, which stores it and sends it back to every data plane; a second,
// different one is refused, and a data plane whose token is wrong is not
// told the control plane refused (it could not ask).
func TestHandshakeSecretReachesDataPlanes(t *testing.T) {
	const hookSecret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
	ctx := context.Background()
	f := follow(t)
	src, err := plugsv1.NewSourceServiceClient(f.conn).CreateSource(f.actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "asana", TemplateId: "asana"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "source in snapshot", func() bool { return f.store.Load().Source(src.GetId()) != nil })

	if err := f.cc.CaptureSecret(ctx, src.GetId(), hookSecret); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "captured secret in snapshot", func() bool {
		s := f.store.Load().Source(src.GetId())
		return s != nil && len(s.Config.GetSecrets()) == 1 && string(s.Config.GetSecrets()[0].GetValue()) == hookSecret
	})
	if err := f.cc.CaptureSecret(ctx, src.GetId(), hookSecret); err != nil {
		t.Fatalf("repeated handshake: %v", err)
	}
	if err := f.cc.CaptureSecret(ctx, src.GetId(), "another-secret-0123456789abcdef"); !errors.Is(err, pipeline.ErrSecretRefused) {
		t.Fatalf("another secret: %v", err)
	}
	stranger := &configclient.Client{Conn: f.conn, Token: "not-a-data-plane-token", Node: &plugsv1.Node{Id: "dp-x"}}
	if err := stranger.CaptureSecret(ctx, src.GetId(), hookSecret); err == nil || errors.Is(err, pipeline.ErrSecretRefused) {
		t.Fatalf("wrong token: %v", err)
	}
}
