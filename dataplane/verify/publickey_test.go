package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// pkScheme signs "{timestamp}.{body}", the signature in X-Signature and the
// timestamp in X-Timestamp, with the source's secrets as keys.
func pkScheme(alg plugsv1.PublicKeyScheme_Algorithm, format plugsv1.KeySource_Format, enc plugsv1.SignatureScheme_Encoding) *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: enc, Header: "X-Signature",
		SignedParts: signedParts(signedPart(plugsv1.SignedPart_KIND_TIMESTAMP), signedPart(plugsv1.SignedPart_KIND_LITERAL, "."),
			signedPart(plugsv1.SignedPart_KIND_BODY)),
		Timestamp: &plugsv1.TimestampSource{Header: "X-Timestamp", Format: plugsv1.TimestampSource_FORMAT_UNIX_SECONDS},
		PublicKey: &plugsv1.PublicKeyScheme{Algorithm: alg, Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: format}},
	}
}

func sha256Of(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// mustSign returns a signature; signing with a key made in the test does
// not fail.
func mustSign(sig []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return sig
}

func spkiB64(t testing.TB, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// TestPublicKeySchemes signs "{t}.{body}" with each algorithm and checks
// that the key passes, another key and a changed body do not.
func TestPublicKeySchemes(t *testing.T) {
	rsaKey, otherRSA := verifytest.RSAKey(t), verifytest.RSAKey(t)
	ecKey, otherEC := verifytest.ECKey(t), verifytest.ECKey(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	whpk := func(k ed25519.PrivateKey) string {
		return "whpk_" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	}
	rawEC := func(k *ecdsa.PrivateKey, msg []byte) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, k, sha256Of(msg))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	cases := []struct {
		name       string
		alg        plugsv1.PublicKeyScheme_Algorithm
		format     plugsv1.KeySource_Format
		enc        plugsv1.SignatureScheme_Encoding
		key, other string
		sign       func(msg []byte) []byte
	}{
		{"rsa-pkcs1-sha256", plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256, plugsv1.KeySource_FORMAT_PEM, plugsv1.SignatureScheme_ENCODING_BASE64,
			verifytest.PublicPEM(t, &rsaKey.PublicKey), verifytest.PublicPEM(t, &otherRSA.PublicKey),
			func(msg []byte) []byte {
				return mustSign(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sha256Of(msg)))
			}},
		{"rsa-pkcs1-sha1", plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA1, plugsv1.KeySource_FORMAT_PEM, plugsv1.SignatureScheme_ENCODING_HEX,
			verifytest.PublicPEM(t, &rsaKey.PublicKey), verifytest.PublicPEM(t, &otherRSA.PublicKey),
			func(msg []byte) []byte {
				d := sha1.Sum(msg)
				return mustSign(rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA1, d[:]))
			}},
		{"rsa-pss-sha256", plugsv1.PublicKeyScheme_ALGORITHM_RSA_PSS_SHA256, plugsv1.KeySource_FORMAT_SPKI_BASE64, plugsv1.SignatureScheme_ENCODING_BASE64URL,
			spkiB64(t, &rsaKey.PublicKey), spkiB64(t, &otherRSA.PublicKey),
			func(msg []byte) []byte {
				return mustSign(rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, sha256Of(msg), nil))
			}},
		{"ecdsa-p256-der", plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256, plugsv1.KeySource_FORMAT_SPKI_BASE64, plugsv1.SignatureScheme_ENCODING_BASE64,
			spkiB64(t, &ecKey.PublicKey), spkiB64(t, &otherEC.PublicKey),
			func(msg []byte) []byte { return mustSign(ecdsa.SignASN1(rand.Reader, ecKey, sha256Of(msg))) }},
		{"ecdsa-p256-raw", plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256_RAW, plugsv1.KeySource_FORMAT_PEM, plugsv1.SignatureScheme_ENCODING_HEX,
			verifytest.PublicPEM(t, &ecKey.PublicKey), verifytest.PublicPEM(t, &otherEC.PublicKey),
			func(msg []byte) []byte { return rawEC(ecKey, msg) }},
		{"ed25519-whpk", plugsv1.PublicKeyScheme_ALGORITHM_ED25519, plugsv1.KeySource_FORMAT_WHPK, plugsv1.SignatureScheme_ENCODING_BASE64,
			whpk(edKey), whpk(otherEd), func(msg []byte) []byte { return ed25519.Sign(edKey, msg) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scheme := pkScheme(c.alg, c.format, c.enc)
			sig := c.sign([]byte(testNowTS + "." + testBody))
			var text string
			switch c.enc {
			case plugsv1.SignatureScheme_ENCODING_HEX:
				text = strings.ToUpper(hex.EncodeToString(sig))
			case plugsv1.SignatureScheme_ENCODING_BASE64URL:
				text = base64.RawURLEncoding.EncodeToString(sig)
			default:
				text = base64.StdEncoding.EncodeToString(sig)
			}
			h := http.Header{"X-Signature": {text}, "X-Timestamp": {testNowTS}}
			req := func(body string) *verify.Request {
				return &verify.Request{Method: http.MethodPost, Header: h, Body: payload.New([]byte(body), jsonCT)}
			}
			good := mustCompile(t, scheme, secretsOf(c.key))
			if err := good.Verify(req(testBody), verify.Options{Now: testNow}); err != nil {
				t.Fatalf("valid signature: %v", err)
			}
			// Rotation: the old key beside the new one still passes.
			if err := mustCompile(t, scheme, secretsOf(c.other, c.key)).Verify(req(testBody), verify.Options{Now: testNow}); err != nil {
				t.Fatalf("valid signature beside another key: %v", err)
			}
			if err := mustCompile(t, scheme, secretsOf(c.other)).Verify(req(testBody), verify.Options{Now: testNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
				t.Fatalf("wrong key: %v", err)
			}
			if err := good.Verify(req(testBody+" "), verify.Options{Now: testNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
				t.Fatalf("changed body: %v", err)
			}
			if err := good.Verify(req(testBody), verify.Options{Now: testNow.Add(time.Hour)}); !errors.Is(err, verify.ErrSignatureStale) {
				t.Fatalf("an hour later: %v", err)
			}
		})
	}
}

// A secret that is not a key is left out and named, not fatal.
func TestPublicKeyBadSecret(t *testing.T) {
	scheme := pkScheme(plugsv1.PublicKeyScheme_ALGORITHM_ED25519, plugsv1.KeySource_FORMAT_WHPK, plugsv1.SignatureScheme_ENCODING_BASE64)
	v := mustCompile(t, scheme, secretsOf("whsec_notapublickey", "whpk_AAAA"))
	if len(v.Problems()) != 2 {
		t.Fatalf("problems %v", v.Problems())
	}
	h := http.Header{"X-Signature": {"AAAA"}, "X-Timestamp": {testNowTS}}
	err := v.Verify(&verify.Request{Header: h, Body: payload.New([]byte(testBody), jsonCT)}, verify.Options{Now: testNow})
	if !errors.Is(err, verify.ErrSecretMissing) {
		t.Fatalf("got %v, want %v", err, verify.ErrSecretMissing)
	}
	rsaSmall, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.ParsePublicKey(plugsv1.KeySource_FORMAT_PEM, []byte(verifytest.PublicPEM(t, &rsaSmall.PublicKey))); err == nil {
		t.Fatal("1024-bit RSA key accepted")
	}
}

const (
	snsHost  = "sns.us-east-1.amazonaws.com"
	snsTopic = "arn:aws:sns:us-east-1:123456789012:billing"
)

// snsScheme is AWS SNS's scheme as the template declares it.
func snsScheme() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: plugsv1.SignatureScheme_ENCODING_BASE64,
		SignatureJsonPath: "$.Signature",
		Handshakes: []*plugsv1.HandshakeRule{{Method: "POST", Signed: true,
			Conditions: []*plugsv1.HandshakeCondition{{Input: &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_JsonPath{JsonPath: "$.Type"}},
				Equals: "SubscriptionConfirmation"}},
			ConfirmUrl: &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_JsonPath{JsonPath: "$.SubscribeURL"}},
			Answer: &plugsv1.HandshakeAnswer{ContentType: "application/json",
				Body: &plugsv1.HandshakeAnswer_Fixed{Fixed: `{"confirmed":true}`}}}},
		PublicKey: &plugsv1.PublicKeyScheme{
			AlgorithmJsonPath: "$.SignatureVersion",
			AlgorithmNames: map[string]plugsv1.PublicKeyScheme_Algorithm{
				"1": plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA1, "2": plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256},
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_CERTIFICATE_URL, UrlJsonPath: "$.SigningCertURL",
				AllowedUrls: []string{"https://sns.*.amazonaws.com/SimpleNotificationService-"}},
			Canonical:   plugsv1.PublicKeyScheme_CANONICAL_AWS_SNS,
			PinJsonPath: "$.TopicArn",
		},
	}
}

// snsMessage is an SNS message signed with key the way SNS signs it.
func snsMessage(t testing.TB, key *rsa.PrivateKey, version, certURL string, fields map[string]string) []byte {
	t.Helper()
	m := map[string]string{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": snsTopic,
		"Subject": "usage", "Message": `{"customer":"cus_1","units":3}`, "Timestamp": "2026-03-02T10:29:58.000Z",
		"SignatureVersion": version, "SigningCertURL": certURL}
	for k, v := range fields {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	order := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		order = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var s strings.Builder
	for _, k := range order {
		if v, ok := m[k]; ok {
			s.WriteString(k + "\n" + v + "\n")
		}
	}
	h, d := crypto.SHA256, sha256Of([]byte(s.String()))
	if version == "1" {
		sum := sha1.Sum([]byte(s.String()))
		h, d = crypto.SHA1, sum[:]
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(mustSign(rsa.SignPKCS1v15(rand.Reader, key, h, d)))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type snsFixture struct {
	ks      *verifytest.KeyServer
	key     *rsa.PrivateKey
	certURL string
	keys    *verify.Fetcher
	v       *verify.Verifier
}

func newSNS(t *testing.T, opts verify.FetcherOptions) *snsFixture {
	ks := verifytest.NewKeyServer(t, snsHost)
	key := verifytest.RSAKey(t)
	ca := verifytest.NewCA(t, "Amazon test CA")
	cert := ca.Issue(t, verifytest.CertOptions{CommonName: snsHost, DNSNames: []string{snsHost}, Key: key})
	ks.Handle("/SimpleNotificationService-good.pem", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(cert))
	})
	return &snsFixture{ks: ks, key: key, certURL: "https://" + snsHost + "/SimpleNotificationService-good.pem",
		keys: ks.Fetcher(t, opts), v: mustCompile(t, snsScheme(), secretsOf(snsTopic))}
}

func (f *snsFixture) verify(body []byte) error {
	req := &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(body, "text/plain; charset=UTF-8")}
	return f.v.Verify(req, verify.Options{Now: time.Now(), Keys: f.keys})
}

func TestSNSCertificateURL(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	for _, version := range []string{"1", "2"} {
		if err := f.verify(snsMessage(t, f.key, version, f.certURL, nil)); err != nil {
			t.Fatalf("SignatureVersion %s: %v", version, err)
		}
	}
	// Without a subject, the subject is not signed.
	if err := f.verify(snsMessage(t, f.key, "2", f.certURL, map[string]string{"Subject": ""})); err != nil {
		t.Fatalf("no subject: %v", err)
	}
	if n := f.ks.Requests(); n != 1 {
		t.Fatalf("certificate fetched %d times, want once", n)
	}
	tampered := strings.Replace(string(snsMessage(t, f.key, "2", f.certURL, nil)), "cus_1", "cus_2", 1)
	if err := f.verify([]byte(tampered)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("changed message: %v", err)
	}
	other := verifytest.RSAKey(t)
	if err := f.verify(snsMessage(t, other, "2", f.certURL, nil)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another key: %v", err)
	}
	if err := f.verify(snsMessage(t, f.key, "3", f.certURL, nil)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("SignatureVersion 3: %v", err)
	}
	// Signed by SNS, but for another topic than the source's.
	if err := f.verify(snsMessage(t, f.key, "2", f.certURL, map[string]string{"TopicArn": "arn:aws:sns:us-east-1:999999999999:theirs"})); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another topic: %v", err)
	}
}

// A certificate URL off the allowlist is refused before any connection.
func TestSNSCertificateURLRefusedBeforeConnecting(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	for _, u := range []string{
		"https://evil.example.com/SimpleNotificationService-good.pem",
		"http://" + snsHost + "/SimpleNotificationService-good.pem",
		"https://" + snsHost + ".evil.example/SimpleNotificationService-good.pem",
		"https://" + snsHost + ":8443/SimpleNotificationService-good.pem",
		"https://user@" + snsHost + "/SimpleNotificationService-good.pem",
		"https://sns.us-east-1.x.amazonaws.com/SimpleNotificationService-good.pem",
		"https://sns.us_east.amazonaws.com/SimpleNotificationService-good.pem",
		"https://" + snsHost + "/other/SimpleNotificationService-good.pem",
		"https://" + snsHost + "/SimpleNotificationService-/../x.pem",
		"https://" + snsHost + "/SimpleNotificationService-/%2E%2e/x.pem",
		"https://" + snsHost + "/SimpleNotificationService-good.pem?x=1",
		"https://127.0.0.1/SimpleNotificationService-good.pem",
		"//" + snsHost + "/SimpleNotificationService-good.pem",
	} {
		err := f.verify(snsMessage(t, f.key, "2", u, nil))
		if !errors.Is(err, verify.ErrSignatureInvalid) {
			t.Errorf("%s: got %v, want %v", u, err, verify.ErrSignatureInvalid)
		}
	}
	if f.ks.Dials() != 0 || f.ks.Requests() != 0 {
		t.Fatalf("the key server saw %d connections and %d requests", f.ks.Dials(), f.ks.Requests())
	}
}

func TestCertificateExpired(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	ca := verifytest.NewCA(t, "CA")
	old := ca.Issue(t, verifytest.CertOptions{CommonName: snsHost, Key: f.key,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	f.ks.Handle("/SimpleNotificationService-expired.pem", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(old))
	})
	u := "https://" + snsHost + "/SimpleNotificationService-expired.pem"
	if err := f.verify(snsMessage(t, f.key, "2", u, nil)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("expired certificate: %v", err)
	}
}

// A key server that does not answer makes the request fail with
// ErrKeyUnavailable within the Fetcher's Wait, and a server that fails is
// not asked again until the negative entry expires.
func TestCertificateSlowOrDown(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{Wait: 100 * time.Millisecond, Timeout: 2 * time.Second})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.ks.Handle("/SimpleNotificationService-slow.pem", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f.ks.Handle("/SimpleNotificationService-down.pem", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	})
	start := time.Now()
	err := f.verify(snsMessage(t, f.key, "2", "https://"+snsHost+"/SimpleNotificationService-slow.pem", nil))
	if !errors.Is(err, verify.ErrKeyUnavailable) || verify.RetryAfter(err) <= 0 {
		t.Fatalf("slow: got %v (retry after %s), want %v", err, verify.RetryAfter(err), verify.ErrKeyUnavailable)
	}
	if waited := time.Since(start); waited > 1500*time.Millisecond {
		t.Fatalf("the request waited %s for a key", waited)
	}
	down := "https://" + snsHost + "/SimpleNotificationService-down.pem"
	for range 3 {
		if err := f.verify(snsMessage(t, f.key, "2", down, nil)); !errors.Is(err, verify.ErrKeyUnavailable) {
			t.Fatalf("down: got %v", err)
		}
	}
	if n := f.ks.Hits(snsHost + "/SimpleNotificationService-down.pem"); n != 1 {
		t.Fatalf("a failing key server was asked %d times within the negative TTL", n)
	}
}

func TestSNSStringToSignNeedsFields(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	for name, edit := range map[string]map[string]string{
		"no type":          {"Type": ""},
		"unknown type":     {"Type": "Other"},
		"no message id":    {"MessageId": ""},
		"no signature URL": {"SigningCertURL": ""},
	} {
		err := f.verify(snsMessage(t, f.key, "2", f.certURL, edit))
		if err == nil || errors.Is(err, verify.ErrKeyUnavailable) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestSNSSubscriptionConfirmation(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	confirmed := 0
	f.ks.Handle("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") == "ConfirmSubscription" && r.URL.Query().Get("Token") == "tok" {
			confirmed++
		}
	})
	sub := "https://" + snsHost + "/?Action=ConfirmSubscription&TopicArn=" + snsTopic + "&Token=tok"
	body := snsMessage(t, f.key, "2", f.certURL, map[string]string{"Type": "SubscriptionConfirmation", "Subject": "",
		"SubscribeURL": sub, "Token": "tok", "Message": "You have chosen to subscribe"})
	req := &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(body, "text/plain")}
	if err := f.v.Verify(req, verify.Options{Now: time.Now(), Keys: f.keys}); err != nil {
		t.Fatal(err)
	}
	opts := verify.Options{Now: time.Now(), Keys: f.keys, Context: t.Context()}
	if ans, err := f.v.Handshake(req, "", false, opts); ans != nil || err != nil {
		t.Fatalf("a confirmation answered before verification: %v, %v", ans, err)
	}
	if confirmed != 0 {
		t.Fatal("the SubscribeURL was visited before verification")
	}
	ans, err := f.v.Handshake(req, "", true, opts)
	if err != nil || ans == nil || confirmed != 1 || string(ans.Body) != `{"confirmed":true}` {
		t.Fatalf("answer %v, error %v, confirmed %d times", ans, err, confirmed)
	}
	// A SubscribeURL off SNS's hosts is never visited.
	dials := f.ks.Dials()
	evil := snsMessage(t, f.key, "2", f.certURL, map[string]string{"Type": "SubscriptionConfirmation", "Subject": "",
		"SubscribeURL": "https://attacker.example.com/?Action=ConfirmSubscription", "Token": "tok", "Message": "m"})
	req = &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(evil, "text/plain")}
	if _, err := f.v.Handshake(req, "", true, opts); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("foreign SubscribeURL: %v", err)
	}
	if f.ks.Dials() != dials {
		t.Fatal("a foreign SubscribeURL was dialled")
	}
	// A notification is not a confirmation.
	note := &verify.Request{Method: http.MethodPost, Body: payload.New(snsMessage(t, f.key, "2", f.certURL, nil), "text/plain")}
	if ans, err := f.v.Handshake(note, "", true, opts); ans != nil || err != nil {
		t.Fatalf("notification answered %v, %v", ans, err)
	}
}

// A confirmation whose SubscribeURL does not answer 200 is not answered:
// ErrKeyUnavailable, so the request is answered 503 and SNS sends it again.
func TestSNSSubscriptionConfirmationFails(t *testing.T) {
	f := newSNS(t, verify.FetcherOptions{})
	f.ks.Handle("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "throttled", http.StatusServiceUnavailable)
	})
	body := snsMessage(t, f.key, "2", f.certURL, map[string]string{"Type": "SubscriptionConfirmation", "Subject": "",
		"SubscribeURL": "https://" + snsHost + "/?Action=ConfirmSubscription&Token=tok", "Token": "tok", "Message": "m"})
	req := &verify.Request{Method: http.MethodPost, Header: http.Header{}, Body: payload.New(body, "text/plain")}
	opts := verify.Options{Now: time.Now(), Keys: f.keys, Context: t.Context()}
	if err := f.v.Verify(req, opts); err != nil {
		t.Fatal(err)
	}
	ans, err := f.v.Handshake(req, "", true, opts)
	if ans != nil || !errors.Is(err, verify.ErrKeyUnavailable) || verify.RetryAfter(err) <= 0 {
		t.Fatalf("answer %v, error %v", ans, err)
	}
	// Without a fetcher (a data plane that makes no outbound calls) it
	// cannot be confirmed either.
	if _, err := f.v.Handshake(req, "", true, verify.Options{Now: time.Now()}); !errors.Is(err, verify.ErrKeyUnavailable) {
		t.Fatalf("no fetcher: %v", err)
	}
}

// A handshake visits a URL only when signed, and only under a scheme whose
// certificate URLs say which hosts it may be on.
func TestConfirmURLNeedsSignedRuleAndAllowedHosts(t *testing.T) {
	confirm := func(signed bool) []*plugsv1.HandshakeRule {
		return []*plugsv1.HandshakeRule{{Method: "POST", Signed: signed,
			ConfirmUrl: &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_JsonPath{JsonPath: "$.SubscribeURL"}}}}
	}
	unsigned := snsScheme()
	unsigned.Handshakes = confirm(false)
	hmacScheme := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_HEX,
		Header: "X-Sig", SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}}, Handshakes: confirm(true)}
	keyFromSecret := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: plugsv1.SignatureScheme_ENCODING_BASE64,
		Header: "X-Sig", SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}}, Handshakes: confirm(true),
		PublicKey: &plugsv1.PublicKeyScheme{Algorithm: plugsv1.PublicKeyScheme_ALGORITHM_ED25519,
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_ED25519_BASE64}}}
	for name, s := range map[string]*plugsv1.SignatureScheme{"unsigned": unsigned, "hmac": hmacScheme, "key from the secret": keyFromSecret} {
		if _, err := verify.Compile(s, nil); !errors.Is(err, verify.ErrInvalidScheme) || !strings.Contains(err.Error(), "confirm_url") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := verify.Compile(snsScheme(), nil); err != nil {
		t.Fatal(err)
	}
}

// PayPal's scheme: the webhook id (the source's secret) is signed in plain
// beside a CRC-32 of the body, and the certificate chains to public roots.
func TestPayPalStyleChainAndSignedSecret(t *testing.T) {
	const host = "api.paypal.com"
	ks := verifytest.NewKeyServer(t, host)
	root := verifytest.NewCA(t, "Public Root")
	inter := root.Sub(t, "Public Intermediate")
	key := verifytest.RSAKey(t)
	leaf := inter.Issue(t, verifytest.CertOptions{CommonName: "messageverificationcerts.paypal.com",
		DNSNames: []string{"messageverificationcerts.paypal.com"}, Key: key})
	ks.Handle("/v1/notifications/certs/CERT-1", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(leaf, inter.Cert))
	})
	otherName := inter.Issue(t, verifytest.CertOptions{CommonName: "www.paypal.com", DNSNames: []string{"www.paypal.com"}, Key: key})
	ks.Handle("/v1/notifications/certs/CERT-www", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(otherName, inter.Cert))
	})
	rogue := verifytest.NewCA(t, "Rogue").Issue(t, verifytest.CertOptions{CommonName: "messageverificationcerts.paypal.com",
		DNSNames: []string{"messageverificationcerts.paypal.com"}, Key: key})
	ks.Handle("/v1/notifications/certs/CERT-rogue", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(rogue))
	})
	scheme := &plugsv1.SignatureScheme{
		Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: plugsv1.SignatureScheme_ENCODING_BASE64, Header: "Paypal-Transmission-Sig",
		SignedParts: signedParts(signedPart(plugsv1.SignedPart_KIND_HEADER, "Paypal-Transmission-Id"), signedPart(plugsv1.SignedPart_KIND_LITERAL, "|"),
			signedPart(plugsv1.SignedPart_KIND_HEADER, "Paypal-Transmission-Time"), signedPart(plugsv1.SignedPart_KIND_LITERAL, "|"),
			signedPart(plugsv1.SignedPart_KIND_SECRET), signedPart(plugsv1.SignedPart_KIND_LITERAL, "|"), signedPart(plugsv1.SignedPart_KIND_BODY_CRC32)),
		PublicKey: &plugsv1.PublicKeyScheme{
			AlgorithmHeader: "Paypal-Auth-Algo",
			AlgorithmNames:  map[string]plugsv1.PublicKeyScheme_Algorithm{"SHA256withRSA": plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256},
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_CERTIFICATE_URL, UrlHeader: "Paypal-Cert-Url",
				AllowedUrls: []string{"https://api.paypal.com/v1/notifications/certs/"}, Roots: plugsv1.KeySource_ROOTS_SYSTEM,
				LeafDnsNames: []string{"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}},
		},
	}
	const webhookID = "4JH86294D6297924G"
	body := `{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}`
	sign := func(cert, id string) http.Header {
		msg := "tid-1|2026-03-02T10:29:58Z|" + id + "|" + strconv.FormatUint(uint64(crc32Of(body)), 10)
		sig := mustSign(rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sha256Of([]byte(msg))))
		return http.Header{"Paypal-Transmission-Id": {"tid-1"}, "Paypal-Transmission-Time": {"2026-03-02T10:29:58Z"},
			"Paypal-Transmission-Sig": {base64.StdEncoding.EncodeToString(sig)}, "Paypal-Auth-Algo": {"SHA256withRSA"},
			"Paypal-Cert-Url": {"https://" + host + "/v1/notifications/certs/" + cert}}
	}
	keys := ks.Fetcher(t, verify.FetcherOptions{Roots: verifytest.Roots(plugsv1.KeySource_ROOTS_SYSTEM, root.Pool())})
	v := mustCompile(t, scheme, secretsOf("OLDWEBHOOKID", webhookID))
	run := func(h http.Header, b string) error {
		return v.Verify(&verify.Request{Method: http.MethodPost, Header: h, Body: payload.New([]byte(b), jsonCT)}, verify.Options{Now: time.Now(), Keys: keys})
	}
	if err := run(sign("CERT-1", webhookID), body); err != nil {
		t.Fatal(err)
	}
	if err := run(sign("CERT-1", "ANOTHERWEBHOOK"), body); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another webhook's id: %v", err)
	}
	if err := run(sign("CERT-1", webhookID), body+" "); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("changed body: %v", err)
	}
	if err := run(sign("CERT-rogue", webhookID), body); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("certificate off the roots: %v", err)
	}
	if err := run(sign("CERT-www", webhookID), body); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("certificate for another name: %v", err)
	}
	h := sign("CERT-1", webhookID)
	h.Set("Paypal-Auth-Algo", "SHA1withRSA")
	if err := run(h, body); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("algorithm not accepted: %v", err)
	}
}

func crc32Of(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }
