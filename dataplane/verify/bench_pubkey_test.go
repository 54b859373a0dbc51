package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// benchBody is a 2 KB JSON event, the size of the HMAC benchmark's.
func benchBody() string {
	var b strings.Builder
	b.WriteString(`{"id":"evt_1","type":"usage.recorded","data":{"customer":"cus_1","lines":[`)
	for i := range 16 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"li_000` + string(rune('a'+i)) + `","amount":2000,"currency":"usd","description":"1 x Pro plan (at $20.00 / month)","quantity":1}`)
	}
	b.WriteString(`]}}`)
	return b.String()
}

// BenchmarkPublicKeyVerify is one verification of a 2 KB body under each
// kind of public-key or token scheme, keys already cached where they are
// fetched: the work a data plane does per request once warm.
func BenchmarkPublicKeyVerify(b *testing.B) {
	body := benchBody()
	now := time.Now()
	ts := unixText(now)
	run := func(b *testing.B, v *verify.Verifier, h http.Header, body string, keys *verify.Fetcher) {
		var doc payload.Doc
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			doc.Reset([]byte(body), "application/json")
			req := verify.Request{Method: http.MethodPost, Header: h, Body: &doc}
			if err := v.Verify(&req, verify.Options{Now: now, Keys: keys}); err != nil {
				b.Fatal(err)
			}
		}
	}
	msg := []byte(ts + "." + body)
	b.Run("ECDSA-P256", func(b *testing.B) {
		k := verifytest.ECKey(b)
		sig, _ := ecdsa.SignASN1(rand.Reader, k, sha256Of(msg))
		v := mustCompile(b, pkScheme(plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256, plugsv1.KeySource_FORMAT_SPKI_BASE64,
			plugsv1.SignatureScheme_ENCODING_BASE64), secretsOf(spkiB64(b, &k.PublicKey)))
		run(b, v, http.Header{"X-Signature": {base64.StdEncoding.EncodeToString(sig)}, "X-Timestamp": {ts}}, body, nil)
	})
	b.Run("RSA-2048-PKCS1-SHA256", func(b *testing.B) {
		k := verifytest.RSAKey(b)
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sha256Of(msg))
		v := mustCompile(b, pkScheme(plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256, plugsv1.KeySource_FORMAT_PEM,
			plugsv1.SignatureScheme_ENCODING_BASE64), secretsOf(verifytest.PublicPEM(b, &k.PublicKey)))
		run(b, v, http.Header{"X-Signature": {base64.StdEncoding.EncodeToString(sig)}, "X-Timestamp": {ts}}, body, nil)
	})
	b.Run("Ed25519", func(b *testing.B) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		v := mustCompile(b, pkScheme(plugsv1.PublicKeyScheme_ALGORITHM_ED25519, plugsv1.KeySource_FORMAT_WHPK,
			plugsv1.SignatureScheme_ENCODING_BASE64), secretsOf("whpk_"+base64.StdEncoding.EncodeToString(pub)))
		run(b, v, http.Header{"X-Signature": {base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))}, "X-Timestamp": {ts}}, body, nil)
	})
	b.Run("JWT-HS256-body-hash", func(b *testing.B) {
		secret := "vonage-signature-secret-0123456789"
		sum := sha256.Sum256([]byte(body))
		tok := verifytest.JWT(b, "HS256", []byte(secret), nil, map[string]any{"iat": now.Unix(), "payload_hash": hex.EncodeToString(sum[:])})
		v := mustCompile(b, &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
			Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"HS256"},
			Keys:          &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_HMAC},
			BodyHashClaim: "payload_hash", BodyHash: plugsv1.JwtScheme_BODY_HASH_SHA256_HEX}}, secretsOf(secret))
		run(b, v, http.Header{"Authorization": {"Bearer " + tok}}, body, nil)
	})
	b.Run("JWT-RS256-JWKS-cached", func(b *testing.B) {
		ks := verifytest.NewKeyServer(b, googleHost)
		k := verifytest.RSAKey(b)
		ks.Handle("/oauth2/v3/certs", func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(b, &k.PublicKey, "k1")}})
		})
		tok := verifytest.JWT(b, "RS256", k, map[string]any{"kid": "k1"}, map[string]any{"iss": "https://accounts.google.com",
			"aud": audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		v := mustCompile(b, &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
			Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"RS256"},
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_JWKS, Url: googleCerts}, PinClaim: "$.aud"}}, secretsOf(audience))
		run(b, v, http.Header{"Authorization": {"Bearer " + tok}}, body, ks.Fetcher(b, verify.FetcherOptions{}))
		if ks.Requests() != 1 {
			b.Fatalf("key set fetched %d times", ks.Requests())
		}
	})
	b.Run("SNS-certificate-URL-cached", func(b *testing.B) {
		ks := verifytest.NewKeyServer(b, snsHost)
		k := verifytest.RSAKey(b)
		cert := verifytest.NewCA(b, "CA").Issue(b, verifytest.CertOptions{CommonName: snsHost, Key: k})
		ks.Handle("/SimpleNotificationService-good.pem", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(verifytest.PEM(cert)) })
		sns := snsMessage(b, k, "2", "https://"+snsHost+"/SimpleNotificationService-good.pem", map[string]string{"Message": body})
		run(b, mustCompile(b, snsScheme(), secretsOf(snsTopic)), http.Header{}, string(sns), ks.Fetcher(b, verify.FetcherOptions{}))
	})
	b.Run("JWT-ES256-x5c-chain", func(b *testing.B) {
		leafOID := asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
		interOID := asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
		root := verifytest.NewCA(b, "Root")
		inter := root.Sub(b, "Intermediate", interOID)
		k := verifytest.ECKey(b)
		leaf := inter.Issue(b, verifytest.CertOptions{CommonName: "Leaf", Key: k, Extensions: []asn1.ObjectIdentifier{leafOID}})
		x5c := []string{base64.StdEncoding.EncodeToString(leaf.Raw), base64.StdEncoding.EncodeToString(inter.Cert.Raw),
			base64.StdEncoding.EncodeToString(root.Cert.Raw)}
		tok := verifytest.JWT(b, "ES256", k, map[string]any{"x5c": x5c}, map[string]any{"notificationType": "DID_RENEW",
			"notificationUUID": "u1", "data": map[string]any{"bundleId": "com.example.app"}})
		v := mustCompile(b, &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
			JsonPath: "$.signedPayload", Algorithms: []string{"ES256"},
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_X5C, Roots: plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3,
				ChainExtensionOids: []string{leafOID.String(), interOID.String()}},
			PinClaim: "$..bundleId", Document: plugsv1.JwtScheme_DOCUMENT_CLAIMS}}, secretsOf("com.example.app"))
		keys := verify.NewFetcher(verify.FetcherOptions{Roots: verifytest.Roots(plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3, root.Pool())})
		run(b, v, http.Header{}, `{"signedPayload":"`+tok+`"}`, keys)
	})
}
