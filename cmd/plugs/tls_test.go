package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/store"
)

// pemCert is a throw-away certificate written to PEM files.
type pemCert struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	keyFile  string
}

// issue writes a certificate named name in dir: a CA when parent is nil,
// else a leaf signed by parent for a server at 127.0.0.1 or a client.
func issue(t *testing.T, dir, name string, parent *pemCert, server bool) *pemCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	signer, signerKey := tmpl, key
	switch {
	case parent == nil:
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	case server:
		signer, signerKey = parent.cert, parent.key
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	default:
		signer, signerKey = parent.cert, parent.key
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &pemCert{cert: cert, key: key, certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+".key")}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// writeSelfSigned writes a throw-away self-signed certificate and its key.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	c := issue(t, dir, "self", nil, false)
	return c.certFile, c.keyFile
}

func TestServerTLSFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name  string
		flags serverTLSFlags
		want  string
	}{
		{"cert without key", serverTLSFlags{cert: cert}, "--tls-cert needs --tls-key"},
		{"key without cert", serverTLSFlags{key: key}, "--tls-key needs --tls-cert"},
		{"unreadable cert", serverTLSFlags{cert: missing, key: key}, missing},
		{"client CA without TLS", serverTLSFlags{clientCA: cert}, "--tls-client-ca needs --tls-cert"},
		{"unreadable client CA", serverTLSFlags{cert: cert, key: key, clientCA: missing}, "--tls-client-ca"},
		{"client CA without PEM", serverTLSFlags{cert: cert, key: key, clientCA: notPEM}, "no PEM certificate"},
	}
	for _, c := range bad {
		if _, err := c.flags.load(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	cfg, err := (&serverTLSFlags{}).load()
	if err != nil || cfg != nil {
		t.Fatalf("no flags: %v %v", cfg, err)
	}
	cfg, err = (&serverTLSFlags{cert: cert, key: key, clientCA: cert}).load()
	if err != nil || len(cfg.Certificates) != 1 || cfg.ClientCAs == nil || cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatalf("mTLS flags: %+v %v", cfg, err)
	}
}

func TestDataPlaneFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	bad := []struct {
		name  string
		flags dpFlags
		want  string
	}{
		{"neither token nor certificate", dpFlags{controlPlane: "127.0.0.1:9090"}, "--dataplane-token"},
		{"client cert without key", dpFlags{controlTLS: clientTLSFlags{cert: cert}}, "--tls-cert needs --tls-key"},
		{"unreadable CA", dpFlags{token: "t", controlTLS: clientTLSFlags{ca: filepath.Join(dir, "nope")}}, "--tls-ca"},
		{"ingest cert without key", dpFlags{token: "t", ingestCert: cert}, "--ingest-tls-cert needs --ingest-tls-key"},
	}
	for _, c := range bad {
		if err := c.flags.load(false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	f := dpFlags{controlPlane: "127.0.0.1:9090", controlTLS: clientTLSFlags{ca: cert, cert: cert, key: key}, ingestCert: cert, ingestKey: key}
	if err := f.load(false); err != nil {
		t.Fatalf("mTLS with no token: %v", err)
	}
	if f.creds == nil || f.creds.Info().SecurityProtocol != "tls" || f.ingestTLS == nil {
		t.Fatalf("loaded %+v", f)
	}
}

func TestTokensCreateDataPlane(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := runTokens(ctx, []string{"create", "--dataplane", "--data-dir", dir}, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Fatalf("without --name: %v", err)
	}
	var out bytes.Buffer
	if err := runTokens(ctx, []string{"create", "--dataplane", "--name", "edge-1", "--data-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "pdp_") || strings.Contains(tok, "\n") {
		t.Fatalf("printed %q", out.String())
	}
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := (&auth.DataPlanes{Client: db.Client}).Authenticate(ctx, tok); err != nil {
		t.Fatalf("the printed token does not authenticate: %v", err)
	}
}

// TestMutualTLSEndToEnd runs the control plane and a data plane as the
// commands wire them: TLS from flags, a data plane with a client
// certificate and no token, ingest over TLS.
func TestMutualTLSEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	serverCA := issue(t, dir, "server-ca", nil, false)
	clientCA := issue(t, dir, "client-ca", nil, false)
	cpCert := issue(t, dir, "cp", serverCA, true)
	dpCert := issue(t, dir, "dp", clientCA, false)
	ingestCert := issue(t, dir, "ingest", serverCA, true)

	cp := cpFlags{dataDir: filepath.Join(dir, "data"), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", publicURL: "https://x",
		tls: serverTLSFlags{cert: cpCert.certFile, key: cpCert.keyFile, clientCA: clientCA.certFile}}
	if err := cp.loadTLS(); err != nil {
		t.Fatal(err)
	}
	c, err := startControlPlane(ctx, &cp, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()

	// Ready means a configuration and a reachable backbone.
	embd, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer embd.Shutdown()
	dp := dpFlags{controlPlane: c.srv.GRPCAddr, ingestAddr: "127.0.0.1:0", nodeID: "dp-mtls",
		controlTLS: clientTLSFlags{ca: serverCA.certFile, cert: dpCert.certFile, key: dpCert.keyFile},
		ingestCert: ingestCert.certFile, ingestKey: ingestCert.keyFile, nats: natsFlags{url: embd.URL()}}
	if err := dp.load(false); err != nil {
		t.Fatal(err)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(prev)
	d, err := startDataPlane(ctx, &dp)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop()

	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("https://" + d.srv.Addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("data plane not ready over mTLS: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
