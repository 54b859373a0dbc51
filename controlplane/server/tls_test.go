package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// serverName is the only name on the control plane's test certificate: not
// 127.0.0.1, so the REST gateway's loopback dial passes only because it
// pins the certificate, not because the name happens to match.
const serverName = "cp.plugs.test"

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a leaf certificate for a server (with DNS names) or a client.
func (ca *testCA) issue(t *testing.T, cn string, server bool, dnsNames ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsEnv is a running control plane with one tenant, and the database, so
// tests can store data-plane tokens.
type tlsEnv struct {
	srv *server.Server
	db  *store.DB
	key string
}

func startTLSEnv(t *testing.T, dialect string, cfg *tls.Config) *tlsEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dialect)
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	srv, err := server.Start(ctx, server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		PublicIngestURL: "https://ingest.example.com",
		DataPlaneTokens: []string{dataPlaneToken},
		TLS:             cfg,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	_, key, err := auth.Bootstrap(ctx, db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	return &tlsEnv{srv: srv, db: db, key: key}
}

// dial connects to the gRPC listener with creds, raising the receive limit
// as plugs dataplane does.
func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// firstConfig opens the configuration stream with token (none if empty)
// and returns the first response.
func firstConfig(conn *grpc.ClientConn, token string) (*plugsv1.StreamConfigResponse, error) {
	ctx, cancel := context.WithTimeout(as(token), 10*time.Second)
	defer cancel()
	st, err := plugsv1.NewConfigDiscoveryServiceClient(conn).StreamConfig(ctx)
	if err != nil {
		return nil, err
	}
	// A refused stream may fail this send with io.EOF; the server's status
	// comes from Recv either way.
	_ = st.Send(&plugsv1.StreamConfigRequest{Node: &plugsv1.Node{Id: "dp-test"}})
	return st.Recv()
}

func TestStoredDataPlaneTokens(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testStoredDataPlaneTokens(t, d) })
	}
}

func testStoredDataPlaneTokens(t *testing.T, dialect string) {
	ctx := context.Background()
	e := startTLSEnv(t, dialect, nil)
	tok, err := auth.CreateDataPlaneToken(ctx, e.db.Client, "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, e.srv.GRPCAddr, insecure.NewCredentials())
	src, err := plugsv1.NewSourceServiceClient(conn).CreateSource(as(e.key), newSource("s", secretA))
	if err != nil {
		t.Fatal(err)
	}

	// The cache follows the revision log in the background, so the first
	// snapshot may predate the source for a moment: poll.
	waitUntil(t, "a snapshot with the source over a stored token", func() bool {
		resp, err := firstConfig(conn, tok)
		if err != nil {
			t.Fatalf("stored token: %v", err)
		}
		return resp.GetFull() && len(resp.GetSources()) == 1 && resp.GetSources()[0].GetId() == src.GetId()
	})
	if _, err := firstConfig(conn, dataPlaneToken); err != nil {
		t.Fatalf("static token next to stored ones: %v", err)
	}
	for name, bad := range map[string]string{
		"wrong secret":  tok[:16] + "abcdefghijklmnopqrstuvwxyz234567",
		"tenant key":    e.key,
		"no credential": "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := firstConfig(conn, bad)
			wantCode(t, err, codes.Unauthenticated)
		})
	}
	_, err = plugsv1.NewSourceServiceClient(conn).ListSources(as(tok), &plugsv1.ListSourcesRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

// serverTLS is the control plane's TLS configuration: a certificate from
// serverCA and, when clientCA is set, mTLS for data planes.
func serverTLS(t *testing.T, serverCA, clientCA *testCA) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{serverCA.issue(t, "control plane", true, serverName)}}
	if clientCA != nil {
		cfg.ClientCAs = clientCA.pool
	}
	return cfg
}

// clientCreds trust serverCA and present cert, if any. The certificate is
// presented even when the server's list of acceptable CAs does not name its
// issuer (crypto/tls would quietly leave it out), so the server's own check
// is what is tested.
func clientCreds(serverCA *testCA, cert *tls.Certificate) credentials.TransportCredentials {
	cfg := &tls.Config{RootCAs: serverCA.pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return credentials.NewTLS(cfg)
}

// httpsGet calls the REST listener over TLS.
func httpsGet(t *testing.T, serverCA *testCA, addr, path, key string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: serverCA.pool, ServerName: serverName, MinVersion: tls.VersionTLS12},
	}}
	req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTLSListeners(t *testing.T) {
	serverCA := newCA(t, "server CA")
	e := startTLSEnv(t, "sqlite", serverTLS(t, serverCA, nil))

	if code, body := httpsGet(t, serverCA, e.srv.HTTPAddr, "/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d %s", code, body)
	}
	// The gateway reaches the gRPC listener over TLS and forwards the key.
	if code, body := httpsGet(t, serverCA, e.srv.HTTPAddr, "/v1/sources", e.key); code != http.StatusOK {
		t.Fatalf("GET /v1/sources with a key: %d %s", code, body)
	}
	if code, body := httpsGet(t, serverCA, e.srv.HTTPAddr, "/v1/sources", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/sources without a key: %d %s", code, body)
	}
	// Plaintext is not served on either port.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + e.srv.HTTPAddr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("REST answers plaintext HTTP")
		}
	}
	ctx, cancel := context.WithTimeout(as(e.key), 5*time.Second)
	defer cancel()
	_, err := plugsv1.NewSourceServiceClient(dial(t, e.srv.GRPCAddr, insecure.NewCredentials())).ListSources(ctx, &plugsv1.ListSourcesRequest{})
	if err == nil {
		t.Fatal("gRPC answers plaintext")
	}

	// Over TLS, API keys and data-plane tokens work as before.
	conn := dial(t, e.srv.GRPCAddr, clientCreds(serverCA, nil))
	if _, err := plugsv1.NewSourceServiceClient(conn).ListSources(as(e.key), &plugsv1.ListSourcesRequest{}); err != nil {
		t.Fatalf("gRPC with a key over TLS: %v", err)
	}
	if _, err := firstConfig(conn, dataPlaneToken); err != nil {
		t.Fatalf("config stream with a token over TLS: %v", err)
	}
	// A client that does not trust the server's CA is refused.
	_, err = firstConfig(dial(t, e.srv.GRPCAddr, clientCreds(newCA(t, "stranger"), nil)), dataPlaneToken)
	wantCode(t, err, codes.Unavailable)
}

func TestTLSRejectsConfigWithoutCertificate(t *testing.T) {
	if _, err := server.Start(context.Background(), server.Config{TLS: &tls.Config{}}); err == nil {
		t.Fatal("a TLS configuration without a certificate was accepted")
	}
}

func TestClientCertificateAuthenticatesDataPlane(t *testing.T) {
	serverCA, clientCA, otherCA := newCA(t, "server CA"), newCA(t, "data-plane CA"), newCA(t, "other CA")
	e := startTLSEnv(t, "sqlite", serverTLS(t, serverCA, clientCA))
	api := plugsv1.NewSourceServiceClient(dial(t, e.srv.GRPCAddr, clientCreds(serverCA, nil)))
	src, err := api.CreateSource(as(e.key), newSource("s", secretA))
	if err != nil {
		t.Fatalf("API key without a client certificate: %v", err)
	}

	// A data plane with a certificate from the client CA and no token
	// follows the configuration.
	good := clientCA.issue(t, "dp-1", false)
	conn := dial(t, e.srv.GRPCAddr, clientCreds(serverCA, &good))
	snap := &snapshot.Store{}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Node: &plugsv1.Node{Id: "dp-1"}, Store: snap,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	go func() { defer close(done); _ = cc.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "configuration over mTLS", func() bool { return snap.Load().Source(src.GetId()) != nil })
	if got := snap.Load().Source(src.GetId()); string(got.Config.GetSecrets()[0].GetValue()) != secretA {
		t.Fatal("secret not delivered")
	}
	// The certificate is for the stream only: a tenant API still wants a key.
	_, err = plugsv1.NewSourceServiceClient(conn).ListSources(context.Background(), &plugsv1.ListSourcesRequest{})
	wantCode(t, err, codes.Unauthenticated)

	// A certificate from another CA fails the handshake.
	bad := otherCA.issue(t, "intruder", false)
	_, err = firstConfig(dial(t, e.srv.GRPCAddr, clientCreds(serverCA, &bad)), "")
	wantCode(t, err, codes.Unavailable)
	// No certificate and no token is an unauthenticated stream.
	_, err = firstConfig(dial(t, e.srv.GRPCAddr, clientCreds(serverCA, nil)), "")
	wantCode(t, err, codes.Unauthenticated)
	// The REST gateway presents no certificate of its own, so it carries
	// tenants' calls only.
	if code, body := httpsGet(t, serverCA, e.srv.HTTPAddr, "/v1/sources", e.key); code != http.StatusOK {
		t.Fatalf("REST with a client CA: %d %s", code, body)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
