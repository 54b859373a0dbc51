package auth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

func TestDataPlaneTokenFormat(t *testing.T) {
	tok, prefix, hash, err := auth.NewDataPlaneToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "pdp_") || len(tok) != 48 || !strings.HasPrefix(tok, prefix) || len(prefix) != 16 {
		t.Fatalf("token %q prefix %q", tok, prefix)
	}
	if string(hash) != string(auth.HashToken(tok)) {
		t.Fatal("hash is not HashToken of the token")
	}
	key, _, _, _ := auth.NewAPIKeyToken()
	if !strings.HasPrefix(key, "plg_") || len(key) != len(tok) {
		t.Fatalf("API key %q changed shape", key)
	}
}

// countUpdates counts the updates of data-plane token rows.
func countUpdates(c *ent.Client) *atomic.Int32 {
	var n atomic.Int32
	c.DataPlaneToken.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if m.Op().Is(ent.OpUpdateOne) || m.Op().Is(ent.OpUpdate) {
				n.Add(1)
			}
			return next.Mutate(ctx, m)
		})
	})
	return &n
}

func TestDataPlanesAuthenticate(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDataPlanesAuthenticate(t, d) })
	}
}

func testDataPlanesAuthenticate(t *testing.T, dialect string) {
	ctx := context.Background()
	db := storetest.Open(t, dialect)
	updates := countUpdates(db.Client)
	tok, err := auth.CreateDataPlaneToken(ctx, db.Client, "edge-eu")
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := auth.Bootstrap(ctx, db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 10, 0, 30, 0, time.UTC)
	dp := &auth.DataPlanes{Client: db.Client, Static: []string{"static-token-0123456789"}, Now: func() time.Time { return now }}

	if err := dp.Authenticate(ctx, tok); err != nil {
		t.Fatalf("stored token: %v", err)
	}
	row, err := db.Client.DataPlaneToken.Query().Only(viewer.System(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if row.DisplayName != "edge-eu" || row.LastUsedTime == nil || !row.LastUsedTime.Equal(now.Truncate(time.Minute)) {
		t.Fatalf("row after first use: name %q last used %v", row.DisplayName, row.LastUsedTime)
	}
	if string(row.Hash) == tok || strings.Contains(string(row.Hash), tok[16:]) {
		t.Fatal("the token's secret is stored")
	}
	// Within the same minute the last use is not written again.
	now = now.Add(20 * time.Second)
	if err := dp.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := updates.Load(); n != 1 {
		t.Fatalf("%d updates within one minute, want 1", n)
	}
	now = now.Add(time.Minute)
	if err := dp.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := updates.Load(); n != 2 {
		t.Fatalf("%d updates after a minute, want 2", n)
	}

	if err := dp.Authenticate(ctx, "static-token-0123456789"); err != nil {
		t.Fatalf("static token: %v", err)
	}
	// Right prefix, wrong secret; an unknown prefix; a tenant's API key;
	// nothing at all.
	wrongSecret := tok[:16] + strings.Repeat("a", 32)
	other, _, _, _ := auth.NewDataPlaneToken()
	for name, bad := range map[string]string{"wrong secret": wrongSecret, "unknown": other, "API key": apiKey, "empty": "", "static prefix": "static-token"} {
		if err := dp.Authenticate(ctx, bad); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("%s: %v, want ErrInvalidCredentials", name, err)
		}
	}
	// Without a client only the static tokens count.
	if err := (&auth.DataPlanes{}).Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("no client: %v", err)
	}
	// And a data-plane token is no API key.
	if _, err := (&auth.APIKeys{Client: db.Client}).Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("data-plane token as API key: %v", err)
	}
}

// callCtx is an incoming call's context: a bearer token (none if empty)
// and a peer that did or did not present a verified client certificate.
func callCtx(token string, verifiedCert bool) context.Context {
	ctx := context.Background()
	if token != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
	}
	var state tls.ConnectionState
	if verifiedCert {
		leaf := &x509.Certificate{Subject: pkix.Name{CommonName: "dp-1"}}
		state.VerifiedChains = [][]*x509.Certificate{{leaf}}
	}
	return peer.NewContext(ctx, &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1234},
		AuthInfo: credentials.TLSInfo{State: state},
	})
}

func TestInterceptorRoutesCredentials(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	tok, err := auth.CreateDataPlaneToken(ctx, db.Client, "dp")
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := auth.Bootstrap(ctx, db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	in := &auth.Interceptor{
		Keys:       &auth.APIKeys{Client: db.Client},
		DataPlanes: &auth.DataPlanes{Client: db.Client},
	}
	call := func(method string, ctx context.Context) (viewer.Viewer, error) {
		var got viewer.Viewer
		_, err := in.Unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			got, _ = viewer.FromContext(ctx)
			return nil, nil
		})
		return got, err
	}
	const stream = auth.ConfigServicePrefix + "StreamConfig"
	const sources = "/plugs.v1.SourceService/ListSources"
	cases := []struct {
		name, method, token string
		cert                bool
		code                codes.Code
		system              bool
	}{
		{"stored token on the stream", stream, tok, false, codes.OK, true},
		{"client certificate, no token, on the stream", stream, "", true, codes.OK, true},
		{"client certificate and a wrong token on the stream", stream, "nonsense", true, codes.OK, true},
		{"nothing on the stream", stream, "", false, codes.Unauthenticated, false},
		{"API key on the stream", stream, apiKey, false, codes.Unauthenticated, false},
		{"API key on a tenant API", sources, apiKey, false, codes.OK, false},
		{"data-plane token on a tenant API", sources, tok, false, codes.Unauthenticated, false},
		{"client certificate on a tenant API", sources, "", true, codes.Unauthenticated, false},
	}
	for _, c := range cases {
		v, err := call(c.method, callCtx(c.token, c.cert))
		if status.Code(err) != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
			continue
		}
		if err == nil && v.System != c.system {
			t.Errorf("%s: viewer %+v", c.name, v)
		}
	}
}
