package verify_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const (
	googleHost  = "www.googleapis.com"
	googleCerts = "https://" + googleHost + "/oauth2/v3/certs"
	pushEmail   = "push@project.iam.gserviceaccount.com"
	audience    = "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001"
)

// pubsubScheme is Google Pub/Sub push authentication as the Google Play
// template declares it.
func pubsubScheme() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"RS256"},
		Keys:    &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_JWKS, Url: googleCerts},
		Issuers: []string{"accounts.google.com", "https://accounts.google.com"}, PinClaim: "$.aud",
		Claims:                map[string]string{"$.email": pushEmail},
		DecodeBase64JsonPaths: []string{"$.message.data"},
	}}
}

type googleFixture struct {
	ks      *verifytest.KeyServer
	key     *rsa.PrivateKey
	next    *rsa.PrivateKey
	rotated atomic.Bool
	keys    *verify.Fetcher
	v       *verify.Verifier
	body    []byte
}

func newGoogle(t *testing.T) *googleFixture { return newGoogleAt(t, nil) }

// newGoogleAt is newGoogle with the fetcher on clock (nil: time.Now), and
// a key set that holds k2 once rotate is called.
func newGoogleAt(t *testing.T, clock func() time.Time) *googleFixture {
	ks := verifytest.NewKeyServer(t, googleHost)
	key := verifytest.RSAKey(t)
	other := verifytest.RSAKey(t)
	g := &googleFixture{ks: ks, key: key, next: verifytest.RSAKey(t)}
	jwks := []any{verifytest.JWK(t, &other.PublicKey, "k0"), verifytest.JWK(t, &key.PublicKey, "k1")}
	rotated := append(jwks, verifytest.JWK(t, &g.next.PublicKey, "k2"))
	ks.Handle("/oauth2/v3/certs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=19204, must-revalidate, no-transform")
		set := jwks
		if g.rotated.Load() {
			set = rotated
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	})
	data := base64.StdEncoding.EncodeToString([]byte(`{"version":"1.0","packageName":"com.example.app","eventTimeMillis":"1772447398000","subscriptionNotification":{"version":"1.0","notificationType":4,"purchaseToken":"tok","subscriptionId":"pro_monthly"}}`))
	body := []byte(`{"message":{"data":"` + data + `","messageId":"136969346945","publishTime":"2026-03-02T10:29:58.000Z"},"subscription":"projects/p/subscriptions/s"}`)
	g.keys, g.v, g.body = ks.Fetcher(t, verify.FetcherOptions{Now: clock}), mustCompile(t, pubsubScheme(), secretsOf(audience)), body
	return g
}

func (g *googleFixture) claims(edit map[string]any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": "https://accounts.google.com", "aud": audience, "email": pushEmail, "email_verified": true,
		"iat": now - 10, "exp": now + 3590, "sub": "1234567890"}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (g *googleFixture) verify(token string) (*verify.Request, error) {
	req := &verify.Request{Method: http.MethodPost, Header: http.Header{"Authorization": {"Bearer " + token}}, Body: payload.New(g.body, jsonCT)}
	return req, g.v.Verify(req, verify.Options{Now: time.Now(), Keys: g.keys})
}

func TestJWTFromJWKS(t *testing.T) {
	g := newGoogle(t)
	req, err := g.verify(verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k1"}, g.claims(nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The document mapping reads has message.data decoded.
	if req.Document == nil {
		t.Fatal("no document")
	}
	var paths payload.Paths
	slot := paths.MustAdd("$.message.data.subscriptionNotification.notificationType")
	idSlot := paths.MustAdd("$.message.messageId")
	vals := make([]payload.Value, paths.Len())
	if err := paths.Lookup(req.Document, vals); err != nil {
		t.Fatal(err)
	}
	if vals[slot].Text() != "4" || vals[idSlot].Text() != "136969346945" {
		t.Fatalf("document reads %q and %q", vals[slot].Text(), vals[idSlot].Text())
	}
	// An audience given as a list names the source's among others.
	if _, err := g.verify(verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k1"}, g.claims(map[string]any{"aud": []any{"x", audience}}))); err != nil {
		t.Fatalf("audience list: %v", err)
	}
	if n := g.ks.Requests(); n != 1 {
		t.Fatalf("key set fetched %d times", n)
	}
}

func TestJWTRefused(t *testing.T) {
	g := newGoogle(t)
	other := verifytest.RSAKey(t)
	pubPEM := []byte(verifytest.PublicPEM(t, &g.key.PublicKey))
	jwkJSON, _ := json.Marshal(verifytest.JWK(t, &g.key.PublicKey, "k1"))
	kid := map[string]any{"kid": "k1"}
	now := time.Now().Unix()
	cases := map[string]struct {
		token string
		want  error
	}{
		"alg none":                 {verifytest.JWT(t, "none", nil, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"alg None":                 {verifytest.JWT(t, "None", nil, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"HS256 keyed with the PEM": {verifytest.JWT(t, "HS256", pubPEM, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"HS256 keyed with the JWK": {verifytest.JWT(t, "HS256", jwkJSON, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"PS256 not accepted":       {verifytest.JWT(t, "PS256", g.key, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"another key":              {verifytest.JWT(t, "RS256", other, kid, g.claims(nil)), verify.ErrSignatureInvalid},
		"kid of another key":       {verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k0"}, g.claims(nil)), verify.ErrSignatureInvalid},
		"kid not in the set":       {verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k9"}, g.claims(nil)), verify.ErrSignatureInvalid},
		"expired":                  {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"exp": now - 3600})), verify.ErrSignatureStale},
		"not yet valid":            {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"nbf": now + 3600})), verify.ErrSignatureStale},
		"issued in the future":     {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"iat": now + 3600})), verify.ErrSignatureStale},
		"exp not a number":         {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"exp": "soon"})), verify.ErrSignatureMalformed},
		"another audience":         {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"aud": "https://elsewhere.example"})), verify.ErrSignatureInvalid},
		"no audience":              {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"aud": nil})), verify.ErrSignatureInvalid},
		"another issuer":           {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"iss": "https://evil.example"})), verify.ErrSignatureInvalid},
		"another email":            {verifytest.JWT(t, "RS256", g.key, kid, g.claims(map[string]any{"email": "me@evil.example"})), verify.ErrSignatureInvalid},
		"not a JWS":                {"abc.def", verify.ErrSignatureMalformed},
		"crit header":              {verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k1", "crit": []string{"exp"}}, g.claims(nil)), verify.ErrSignatureInvalid},
		"payload not an object":    {signRaw(t, g.key, `{"alg":"RS256","kid":"k1"}`, `[1,2]`), verify.ErrSignatureMalformed},
	}
	for name, c := range cases {
		if _, err := g.verify(c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// A kid the set lacks does not fetch a set fetched a moment ago again.
	if n := g.ks.Requests(); n != 1 {
		t.Errorf("key set fetched %d times, want once", n)
	}
	req := &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(g.body, jsonCT)}
	if err := g.v.Verify(req, verify.Options{Now: time.Now(), Keys: g.keys}); !errors.Is(err, verify.ErrSignatureMissing) {
		t.Errorf("no token: %v", err)
	}
}

// A provider rotating its keys signs with a kid the cached set lacks: the
// set is fetched again, at most once per RefetchWait.
func TestJWKSRefetchForAnUnknownKid(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	g := newGoogleAt(t, clock)
	if _, err := g.verify(verifytest.JWT(t, "RS256", g.key, map[string]any{"kid": "k1"}, g.claims(nil))); err != nil {
		t.Fatal(err)
	}
	g.rotated.Store(true)
	k2 := verifytest.JWT(t, "RS256", g.next, map[string]any{"kid": "k2"}, g.claims(nil))
	advance(10 * time.Second)
	if _, err := g.verify(k2); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("new kid 10 s after a fetch: %v", err)
	}
	advance(verify.DefaultKeyRefetchWait)
	if _, err := g.verify(k2); err != nil {
		t.Fatalf("new kid after the refetch wait: %v", err)
	}
	for range 3 {
		if _, err := g.verify(verifytest.JWT(t, "RS256", g.next, map[string]any{"kid": "k9"}, g.claims(nil))); !errors.Is(err, verify.ErrSignatureInvalid) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := g.ks.Requests(); n != 2 {
		t.Fatalf("key set fetched %d times, want 2", n)
	}
}

// signRaw signs a header and payload given as JSON text with RS256.
func signRaw(t *testing.T, key *rsa.PrivateKey, header, claims string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	return input + "." + base64.RawURLEncoding.EncodeToString(verifytest.SignJWS(t, "RS256", key, []byte(input)))
}

// A scheme that mixes an HMAC algorithm with public keys, or fetches keys
// without pinning anything to the source, does not compile.
func TestJWTSchemesThatDoNotCompile(t *testing.T) {
	secretKeys := func(f plugsv1.KeySource_Format) *plugsv1.KeySource {
		return &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: f}
	}
	for name, j := range map[string]*plugsv1.JwtScheme{
		"HS256 with a PEM key":   {Header: "X-Token", Algorithms: []string{"HS256"}, Keys: secretKeys(plugsv1.KeySource_FORMAT_PEM)},
		"RS256 with an HMAC key": {Header: "X-Token", Algorithms: []string{"RS256"}, Keys: secretKeys(plugsv1.KeySource_FORMAT_HMAC)},
		"none":                   {Header: "X-Token", Algorithms: []string{"none"}, Keys: secretKeys(plugsv1.KeySource_FORMAT_HMAC)},
		"JWKS without a pin":     {Header: "X-Token", Algorithms: []string{"RS256"}, Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_JWKS, Url: googleCerts}},
		"JWKS over http":         {Header: "X-Token", Algorithms: []string{"RS256"}, PinClaim: "$.aud", Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_JWKS, Url: "http://example.com/jwks"}},
		"x5c without roots":      {JsonPath: "$.t", Algorithms: []string{"ES256"}, PinClaim: "$.aud", Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_X5C}},
		"two token locations":    {Header: "X-Token", WholeBody: true, Algorithms: []string{"HS256"}, Keys: secretKeys(plugsv1.KeySource_FORMAT_HMAC)},
		"no algorithms":          {Header: "X-Token", Keys: secretKeys(plugsv1.KeySource_FORMAT_HMAC)},
	} {
		_, err := verify.Compile(&plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: j}, nil)
		if !errors.Is(err, verify.ErrInvalidScheme) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	cert := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: plugsv1.SignatureScheme_ENCODING_BASE64,
		Header: "X-Sig", SignedParts: signedParts(signedPart(plugsv1.SignedPart_KIND_BODY)),
		PublicKey: &plugsv1.PublicKeyScheme{Algorithm: plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256,
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_CERTIFICATE_URL, UrlHeader: "X-Cert", AllowedUrls: []string{"https://certs.example.com/"}}}}
	if _, err := verify.Compile(cert, nil); !errors.Is(err, verify.ErrInvalidScheme) {
		t.Errorf("certificate URL without a pin: %v", err)
	}
	cert.PublicKey.PinJsonPath = "$.account"
	cert.PublicKey.Keys.AllowedUrls = []string{"https://*.com/"}
	if _, err := verify.Compile(cert, nil); !errors.Is(err, verify.ErrInvalidScheme) {
		t.Errorf("allowlist of a whole top-level domain: %v", err)
	}
}

// Vonage's and Netlify's shape: an HMAC-signed token in a header carrying
// the body's SHA-256.
func TestJWTHMACWithBodyHash(t *testing.T) {
	secret := "whsec-vonage-signature-secret"
	scheme := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"HS256"},
		Keys:          &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_HMAC},
		BodyHashClaim: "payload_hash", BodyHash: plugsv1.JwtScheme_BODY_HASH_SHA256_HEX,
		MaxAge: durationpb.New(5 * time.Minute),
	}}
	v := mustCompile(t, scheme, secretsOf(secret))
	sum := sha256.Sum256([]byte(testBody))
	token := func(key []byte, iat int64) string {
		return verifytest.JWT(t, "HS256", key, nil, map[string]any{"iat": iat, "jti": "j1", "payload_hash": hex.EncodeToString(sum[:])})
	}
	run := func(tok, body string, now time.Time) error {
		return v.Verify(&verify.Request{Header: http.Header{"Authorization": {"Bearer " + tok}}, Body: payload.New([]byte(body), jsonCT)}, verify.Options{Now: now})
	}
	if err := run(token([]byte(secret), testNow.Unix()), testBody, testNow); err != nil {
		t.Fatal(err)
	}
	if err := run(token([]byte(secret), testNow.Unix()), testBody+" ", testNow); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("changed body: %v", err)
	}
	if err := run(token([]byte("another secret"), testNow.Unix()), testBody, testNow); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another secret: %v", err)
	}
	if err := run(token([]byte(secret), testNow.Add(-time.Hour).Unix()), testBody, testNow); !errors.Is(err, verify.ErrSignatureStale) {
		t.Fatalf("an hour old: %v", err)
	}
	if got := v.ReplayWindow(); got != 5*time.Minute+2*verify.DefaultLeeway+verify.ClockSkew {
		t.Fatalf("replay window %s", got)
	}
}

// Apple's App Store Server Notifications V2 shape: a JWS in the body with
// an x5c chain to a pinned root, marked by Apple's extensions, and nested
// JWS fields signed the same way.
func TestJWTX5CChain(t *testing.T) {
	leafOID := asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
	interOID := asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
	root := verifytest.NewCA(t, "Test Apple Root")
	inter := root.Sub(t, "Test WWDR", interOID)
	key := verifytest.ECKey(t)
	leaf := inter.Issue(t, verifytest.CertOptions{CommonName: "Prod ECC Mac App Store and iTunes Store Receipt Signing", Key: key, Extensions: []asn1.ObjectIdentifier{leafOID}})
	unmarked := inter.Issue(t, verifytest.CertOptions{CommonName: "Developer", Key: key})
	expired := inter.Issue(t, verifytest.CertOptions{CommonName: "Old", Key: key, Extensions: []asn1.ObjectIdentifier{leafOID},
		NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	otherRoot := verifytest.NewCA(t, "Other Root")
	otherInter := otherRoot.Sub(t, "Other WWDR", interOID)
	foreign := otherInter.Issue(t, verifytest.CertOptions{CommonName: "Foreign", Key: key, Extensions: []asn1.ObjectIdentifier{leafOID}})
	x5c := func(certs ...*x509.Certificate) map[string]any {
		out := []string{}
		for _, c := range certs {
			out = append(out, base64.StdEncoding.EncodeToString(c.Raw))
		}
		return map[string]any{"x5c": out}
	}
	scheme := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		JsonPath: "$.signedPayload", Algorithms: []string{"ES256"},
		Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_X5C, Roots: plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3,
			ChainExtensionOids: []string{leafOID.String(), interOID.String()}},
		PinClaim: "$.data.bundleId", Document: plugsv1.JwtScheme_DOCUMENT_CLAIMS,
		NestedJwsJsonPaths: []string{"$.data.signedTransactionInfo"},
	}}
	keys := verify.NewFetcher(verify.FetcherOptions{Roots: verifytest.Roots(plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3, root.Pool())})
	v := mustCompile(t, scheme, secretsOf("com.example.app"))
	notification := func(chain map[string]any, bundle string, nestedChain map[string]any) []byte {
		tx := verifytest.JWT(t, "ES256", key, nestedChain, map[string]any{"transactionId": "2000000123", "productId": "pro_monthly", "bundleId": bundle})
		tok := verifytest.JWT(t, "ES256", key, chain, map[string]any{"notificationType": "SUBSCRIBED", "subtype": "INITIAL_BUY",
			"notificationUUID": "002e14d5-51f5-4503-b5a8-c3a1af68eb20", "version": "2.0", "signedDate": time.Now().UnixMilli(),
			"data": map[string]any{"bundleId": bundle, "environment": "Production", "signedTransactionInfo": tx}})
		return []byte(`{"signedPayload":"` + tok + `"}`)
	}
	run := func(body []byte) (*verify.Request, error) {
		req := &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(body, jsonCT)}
		return req, v.Verify(req, verify.Options{Now: time.Now(), Keys: keys})
	}
	good := x5c(leaf, inter.Cert, root.Cert)
	req, err := run(notification(good, "com.example.app", good))
	if err != nil {
		t.Fatal(err)
	}
	var paths payload.Paths
	typ, product := paths.MustAdd("$.notificationType"), paths.MustAdd("$.data.signedTransactionInfo.productId")
	vals := make([]payload.Value, paths.Len())
	if err := paths.Lookup(req.Document, vals); err != nil {
		t.Fatal(err)
	}
	if vals[typ].Text() != "SUBSCRIBED" || vals[product].Text() != "pro_monthly" {
		t.Fatalf("document reads %q, %q", vals[typ].Text(), vals[product].Text())
	}
	for name, c := range map[string]struct {
		body []byte
		want error
	}{
		"leaf without Apple's marker": {notification(x5c(unmarked, inter.Cert, root.Cert), "com.example.app", good), verify.ErrSignatureInvalid},
		"expired leaf":                {notification(x5c(expired, inter.Cert, root.Cert), "com.example.app", good), verify.ErrSignatureInvalid},
		"chain to another root":       {notification(x5c(foreign, otherInter.Cert, otherRoot.Cert), "com.example.app", good), verify.ErrSignatureInvalid},
		"no chain":                    {notification(nil, "com.example.app", good), verify.ErrSignatureMissing},
		"another app":                 {notification(good, "com.other.app", good), verify.ErrSignatureInvalid},
		"nested token off the root":   {notification(good, "com.example.app", x5c(foreign, otherInter.Cert, otherRoot.Cert)), verify.ErrSignatureInvalid},
		"no signedPayload":            {[]byte(`{"other":1}`), verify.ErrSignatureMissing},
	} {
		if _, err := run(c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// The embedded root, not the test's, is what a fetcher without
	// overrides trusts.
	if err := v.Verify(&verify.Request{Body: payload.New(notification(good, "com.example.app", good), jsonCT)},
		verify.Options{Now: time.Now(), Keys: verify.NewFetcher(verify.FetcherOptions{})}); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("a test chain passed the embedded Apple root: %v", err)
	}
}

// Plaid's shape: an ES256 token in a header whose kid is looked up at a key
// endpoint called with the source's credentials, and whose claim carries
// the body's SHA-256.
func TestJWTKeyEndpoint(t *testing.T) {
	const host = "production.plaid.com"
	ks := verifytest.NewKeyServer(t, host)
	key := verifytest.ECKey(t)
	jwk := verifytest.JWK(t, &key.PublicKey, "kid-1")
	jwk["alg"], jwk["use"] = "ES256", "sig"
	ks.Handle("POST /webhook_verification_key/get", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ ClientID, Secret, KeyID string }
		dec := json.NewDecoder(r.Body)
		var raw map[string]string
		if err := dec.Decode(&raw); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		in.ClientID, in.Secret, in.KeyID = raw["client_id"], raw["secret"], raw["key_id"]
		if in.ClientID != "client-1" || in.Secret != "s3cr\"et" {
			http.Error(w, `{"error_code":"INVALID_API_KEYS"}`, http.StatusBadRequest)
			return
		}
		if in.KeyID != "kid-1" {
			http.Error(w, `{"error_code":"INVALID_KEY_ID"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"key": jwk, "request_id": "r1"})
	})
	scheme := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		Header: "Plaid-Verification", Algorithms: []string{"ES256"},
		Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_KEY_ENDPOINT, Url: "https://" + host + "/webhook_verification_key/get",
			Endpoint: &plugsv1.KeyEndpoint{Method: http.MethodPost, Body: `{"client_id":"{secret.user}","secret":"{secret.password}","key_id":"{kid}"}`, KeyJsonPath: "$.key"}},
		BodyHashClaim: "request_body_sha256", BodyHash: plugsv1.JwtScheme_BODY_HASH_SHA256_HEX, MaxAge: durationpb.New(5 * time.Minute),
	}}
	keys := ks.Fetcher(t, verify.FetcherOptions{})
	body := `{"webhook_type":"TRANSACTIONS","webhook_code":"SYNC_UPDATES_AVAILABLE","item_id":"item-1"}`
	sum := sha256.Sum256([]byte(body))
	tok := func(kid string, k *ecdsa.PrivateKey, iat int64) string {
		return verifytest.JWT(t, "ES256", k, map[string]any{"kid": kid}, map[string]any{"iat": iat, "request_body_sha256": hex.EncodeToString(sum[:])})
	}
	run := func(secret, token, b string) error {
		v := mustCompile(t, scheme, secretsOf(secret))
		return v.Verify(&verify.Request{Header: http.Header{"Plaid-Verification": {token}}, Body: payload.New([]byte(b), jsonCT)},
			verify.Options{Now: time.Now(), Keys: keys})
	}
	now := time.Now().Unix()
	if err := run(`client-1:s3cr"et`, tok("kid-1", key, now), body); err != nil {
		t.Fatal(err)
	}
	if err := run(`client-1:s3cr"et`, tok("kid-1", key, now), strings.Replace(body, "item-1", "item-2", 1)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("changed body: %v", err)
	}
	if err := run(`client-1:s3cr"et`, tok("kid-1", verifytest.ECKey(t), now), body); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another key: %v", err)
	}
	if err := run(`client-1:s3cr"et`, tok("kid-1", key, now-3600), body); !errors.Is(err, verify.ErrSignatureStale) {
		t.Fatalf("an hour old: %v", err)
	}
	if err := run(`client-1:s3cr"et`, tok("../../admin", key, now), body); !errors.Is(err, verify.ErrSignatureMalformed) {
		t.Fatalf("kid with a path: %v", err)
	}
	// Wrong credentials: the provider refuses to hand out the key, which
	// is a 503 (and a log line), not a forged request.
	if err := run("client-1:wrong", tok("kid-1", key, now), body); !errors.Is(err, verify.ErrKeyUnavailable) {
		t.Fatalf("wrong credentials: %v", err)
	}
	if n := ks.Requests(); n != 2 {
		t.Fatalf("key endpoint called %d times, want 2 (one per credential)", n)
	}
}

// A detached JWS signs the body itself: a changed body fails, and a token
// that carries a payload of its own is refused.
func TestJWTDetached(t *testing.T) {
	key := []byte("detached-hmac-key-0123456789")
	v := mustCompile(t, &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		Header: "X-Jws", Detached: true, Algorithms: []string{"HS256"},
		Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_HMAC}}}, secretsOf(string(key)))
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`))
	sig := func(body string) string {
		return base64.RawURLEncoding.EncodeToString(verifytest.SignJWS(t, "HS256", key, []byte(header+"."+base64.RawURLEncoding.EncodeToString([]byte(body)))))
	}
	run := func(token, body string) error {
		return v.Verify(&verify.Request{Header: http.Header{"X-Jws": {token}}, Body: payload.New([]byte(body), jsonCT)}, verify.Options{Now: testNow})
	}
	if err := run(header+".."+sig(testBody), testBody); err != nil {
		t.Fatal(err)
	}
	if err := run(header+".."+sig(testBody), testBody+" "); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("changed body: %v", err)
	}
	attached := header + "." + base64.RawURLEncoding.EncodeToString([]byte(testBody)) + "." + sig(testBody)
	if err := run(attached, testBody); !errors.Is(err, verify.ErrSignatureMalformed) {
		t.Fatalf("payload in the token: %v", err)
	}
}
