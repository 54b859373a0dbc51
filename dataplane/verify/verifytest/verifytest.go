// Package verifytest stands in for providers in tests of public-key and
// token verification: a certificate authority that issues chains, an HTTPS
// key server reached through the data plane's egress guard under the
// provider's host names, and a token signer written from RFC 7515 with Go's
// crypto alone.
package verifytest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// CA is a certificate authority for tests.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertOptions describe a certificate to issue.
type CertOptions struct {
	CommonName string
	DNSNames   []string
	// NotBefore and NotAfter default to an hour ago and a year ahead.
	NotBefore, NotAfter time.Time
	IsCA                bool
	// Extensions are object identifiers added as (empty) extensions, as
	// Apple marks its certificates.
	Extensions []asn1.ObjectIdentifier
	// Key is the certificate's key; a P-256 key is made when nil.
	Key crypto.Signer
}

// NewCA makes a self-signed root.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := ecKey(t)
	ca := &CA{Key: key}
	ca.Cert = issue(t, nil, CertOptions{CommonName: name, IsCA: true, Key: key})
	return ca
}

// Issue issues a certificate signed by ca.
func (ca *CA) Issue(t testing.TB, o CertOptions) *x509.Certificate {
	t.Helper()
	return issue(t, ca, o)
}

// Sub issues an intermediate CA under ca.
func (ca *CA) Sub(t testing.TB, name string, exts ...asn1.ObjectIdentifier) *CA {
	t.Helper()
	key := ecKey(t)
	return &CA{Key: key, Cert: issue(t, ca, CertOptions{CommonName: name, IsCA: true, Key: key, Extensions: exts})}
}

// Pool is a pool holding ca's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

var serial atomic.Int64

func issue(t testing.TB, ca *CA, o CertOptions) *x509.Certificate {
	t.Helper()
	if o.Key == nil {
		o.Key = ecKey(t)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: o.CommonName},
		DNSNames:              o.DNSNames,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.IsCA {
		tpl.KeyUsage |= x509.KeyUsageCertSign
		tpl.ExtKeyUsage = nil
	}
	for _, oid := range o.Extensions {
		tpl.ExtraExtensions = append(tpl.ExtraExtensions, pkix.Extension{Id: oid, Value: []byte{5, 0}})
	}
	parent, signer := tpl, o.Key
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, o.Key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RSAKey makes a 2048-bit RSA key.
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ECKey makes a P-256 key.
func ECKey(t testing.TB) *ecdsa.PrivateKey { return ecKey(t) }

// PEM encodes certificates, leaf first.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// PublicPEM is the SPKI PEM of a public key.
func PublicPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// JWK is the JSON Web Key of a public key, with kid.
func JWK(t testing.TB, pub crypto.PublicKey, kid string) map[string]any {
	t.Helper()
	b := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b(k.N.Bytes()), "e": b(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b(raw[1:33]), "y": b(raw[33:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b(k)}
	}
	t.Fatalf("no JWK for %T", pub)
	return nil
}

// JWT signs claims as a compact JWS with alg ("RS256", "ES256", "EdDSA",
// "HS256", "none", …) under key, a crypto.Signer or an HMAC key ([]byte).
// header adds fields to the protected header (kid, x5c).
func JWT(t testing.TB, alg string, key any, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(hj) + "." + base64.RawURLEncoding.EncodeToString(cj)
	return input + "." + base64.RawURLEncoding.EncodeToString(SignJWS(t, alg, key, []byte(input)))
}

// SignJWS is the signature of a JWS signing input.
func SignJWS(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	var newHash func() hash.Hash = sha256.New
	h := crypto.SHA256
	switch alg[len(alg)-3:] {
	case "384":
		newHash, h = sha512.New384, crypto.SHA384
	case "512":
		newHash, h = sha512.New, crypto.SHA512
	}
	if strings.EqualFold(alg, "none") {
		return nil
	}
	if alg[:2] == "HS" {
		m := hmac.New(newHash, key.([]byte))
		m.Write(input)
		return m.Sum(nil)
	}
	if alg == "EdDSA" {
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	}
	d := newHash()
	d.Write(input)
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if alg[:2] == "PS" {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	t.Fatalf("cannot sign %s with %T", alg, key)
	return nil
}

// KeyServer is an HTTPS server answering for the given host names, reached
// through an egress guard that allows only the loopback address it listens
// on: every name the Fetcher dials lands on it.
type KeyServer struct {
	srv      *httptest.Server
	mux      *http.ServeMux
	ca       *CA
	requests atomic.Int64
	dials    atomic.Int64
	mu       sync.Mutex
	paths    map[string]int
}

// NewKeyServer starts a key server with a certificate for hosts.
func NewKeyServer(t testing.TB, hosts ...string) *KeyServer {
	t.Helper()
	ks := &KeyServer{mux: http.NewServeMux(), ca: NewCA(t, "Key Server CA"), paths: map[string]int{}}
	key := ecKey(t)
	leaf := ks.ca.Issue(t, CertOptions{CommonName: hosts[0], DNSNames: hosts, Key: key})
	ks.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.requests.Add(1)
		ks.mu.Lock()
		ks.paths[r.Host+r.URL.Path]++
		ks.mu.Unlock()
		ks.mux.ServeHTTP(w, r)
	}))
	ks.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}}}
	ks.srv.StartTLS()
	t.Cleanup(ks.srv.Close)
	return ks
}

// Handle serves pattern (as http.ServeMux reads it).
func (ks *KeyServer) Handle(pattern string, h http.HandlerFunc) { ks.mux.HandleFunc(pattern, h) }

// Requests is how many requests the server received.
func (ks *KeyServer) Requests() int64 { return ks.requests.Load() }

// Dials is how many connections clients of the server opened.
func (ks *KeyServer) Dials() int64 { return ks.dials.Load() }

// Hits is how many requests reached host+path.
func (ks *KeyServer) Hits(hostPath string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.paths[hostPath]
}

// Client is an HTTP client of the egress guard whose connections, to any
// name, go to the server, and which trusts the server's certificate.
func (ks *KeyServer) Client(t testing.TB) *http.Client {
	t.Helper()
	guard, err := egress.NewGuard([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	c := guard.Client(5 * time.Second)
	tr := c.Transport.(*http.Transport)
	dial := tr.DialContext
	addr := ks.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		ks.dials.Add(1)
		return dial(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: ks.ca.Pool()}
	return c
}

// Fetcher is a Fetcher of the server's client; opts may set anything but
// the client.
func (ks *KeyServer) Fetcher(t testing.TB, opts verify.FetcherOptions) *verify.Fetcher {
	t.Helper()
	opts.Client = ks.Client(t)
	return verify.NewFetcher(opts)
}

// Roots maps a root kind to pool, for FetcherOptions.Roots.
func Roots(kind plugsv1.KeySource_Roots, pool *x509.CertPool) map[plugsv1.KeySource_Roots]*x509.CertPool {
	return map[plugsv1.KeySource_Roots]*x509.CertPool{kind: pool}
}
