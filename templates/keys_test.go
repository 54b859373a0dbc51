package templates_test

// Key recipes: the templates whose provider signs with a private key (or
// sends a signed token). Each request is made here as the provider's
// documentation (cited by the template) describes it, with Go's crypto
// only; keys fetched from the provider are served by a test HTTPS server
// under the provider's host names, reached through the egress guard. The
// same checks run as TestEveryTemplate's: a signed request verifies and its
// verified document maps; a change to what is signed, another key or
// secret, a stale timestamp, a missing signature and no secret fail; the
// previous secret of a rotation works until it expires.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// identity is who signs: the secret as a source is configured with it, and
// the key that signs (a private key, or an HMAC key).
type identity struct {
	secret string
	key    any
}

// keyRecipe makes requests for one template.
type keyRecipe struct {
	template string
	// source is where the recipe is documented.
	source string
	// newIdentity makes a signer. Identities of fetched-key templates
	// share the provider's key and differ by the secret (a pinned value or
	// a credential).
	newIdentity func(t *testing.T) identity
	// sign makes the request a provider sends with body at now.
	sign func(t *testing.T, id identity, body string, now time.Time) (http.Header, string)
	// tamper changes what is signed; nil appends a space to the body.
	tamper func(body string) string
	// foreignKey, when set, signs as id but with a key the provider does
	// not hold, for fetched-key templates (another secret already covers
	// the others).
	foreignKey func(t *testing.T, id identity) identity
	// wrongSecret is what another identity's request fails with;
	// ErrSignatureInvalid when nil.
	wrongSecret error
}

// keyEnv is the stand-in provider every key recipe shares: one HTTPS
// server for all the providers' hosts, and the fetcher that reaches it.
type keyEnv struct {
	ks        *verifytest.KeyServer
	keys      *verify.Fetcher
	rsa       *rsa.PrivateKey // SNS and PayPal certificates, Google's key set
	ec        *ecdsa.PrivateKey
	snsCert   *x509.Certificate
	paypal    []*x509.Certificate
	appleRoot *verifytest.CA
	appleX5C  []string
	credMu    sync.Mutex
	creds     map[string]bool            // credentials the key endpoints accept
	kinde     map[string]*rsa.PrivateKey // each Kinde business's key, by host
}

var (
	appleLeafOID  = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 11, 1}
	appleInterOID = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 2, 1}
)

func newKeyEnv(t *testing.T) *keyEnv {
	ks := verifytest.NewKeyServer(t, "sns.us-west-2.amazonaws.com", "api.paypal.com", "www.googleapis.com",
		"production.plaid.com", "api.circle.com", "keys.fireblocks.io", "*.kinde.com")
	e := &keyEnv{ks: ks, rsa: verifytest.RSAKey(t), ec: verifytest.ECKey(t), creds: map[string]bool{}, kinde: map[string]*rsa.PrivateKey{}}
	amazon := verifytest.NewCA(t, "Amazon Test CA")
	e.snsCert = amazon.Issue(t, verifytest.CertOptions{CommonName: "sns.amazonaws.com", Key: e.rsa})
	ks.Handle("GET /SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(e.snsCert))
	})
	publicRoot := verifytest.NewCA(t, "Test Public Root")
	inter := publicRoot.Sub(t, "Test EV Server CA")
	e.paypal = []*x509.Certificate{inter.Issue(t, verifytest.CertOptions{CommonName: "messageverificationcerts.paypal.com",
		DNSNames: []string{"messageverificationcerts.paypal.com"}, Key: e.rsa}), inter.Cert}
	ks.Handle("GET /v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(e.paypal...))
	})
	ks.Handle("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		e.credMu.Lock()
		k := e.kinde[r.Host]
		e.credMu.Unlock()
		if k == nil {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(t, &k.PublicKey, "kinde-1")}})
	})
	ks.Handle("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(t, &e.rsa.PublicKey, "fireblocks-1")}})
	})
	ks.Handle("GET /oauth2/v3/certs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=21600")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(t, &e.rsa.PublicKey, "google-1")}})
	})
	plaidJWK := verifytest.JWK(t, &e.ec.PublicKey, "plaid-1")
	plaidJWK["alg"], plaidJWK["use"] = "ES256", "sig"
	ks.Handle("POST /webhook_verification_key/get", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !e.accepts(in["client_id"]+":"+in["secret"]) {
			http.Error(w, `{"error_code":"INVALID_API_KEYS"}`, http.StatusBadRequest)
			return
		}
		if in["key_id"] != "plaid-1" {
			http.Error(w, `{"error_code":"INVALID_KEY_ID"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"key": plaidJWK, "request_id": "req-1"})
	})
	ks.Handle("GET /v2/notifications/publicKey/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !e.accepts(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			http.Error(w, `{"code":401,"message":"Malformed authorization."}`, http.StatusUnauthorized)
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&e.ec.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": r.PathValue("id"), "algorithm": "ECDSA_SHA_256",
			"publicKey": base64.StdEncoding.EncodeToString(der)}})
	})
	e.appleRoot = verifytest.NewCA(t, "Test Apple Root CA - G3")
	wwdr := e.appleRoot.Sub(t, "Test Apple Worldwide Developer Relations", appleInterOID)
	leaf := wwdr.Issue(t, verifytest.CertOptions{CommonName: "Prod ECC Mac App Store and iTunes Store Receipt Signing", Key: e.ec,
		Extensions: []asn1.ObjectIdentifier{appleLeafOID}})
	for _, c := range []*x509.Certificate{leaf, wwdr.Cert, e.appleRoot.Cert} {
		e.appleX5C = append(e.appleX5C, base64.StdEncoding.EncodeToString(c.Raw))
	}
	roots := map[plugsv1.KeySource_Roots]*x509.CertPool{
		plugsv1.KeySource_ROOTS_SYSTEM: publicRoot.Pool(), plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3: e.appleRoot.Pool()}
	e.keys = ks.Fetcher(t, verify.FetcherOptions{Roots: roots})
	return e
}

// credential makes a credential the key endpoints accept.
func (e *keyEnv) credential(t *testing.T, user string) string {
	c := user + ":" + hex.EncodeToString(randomBytes(t, 12))
	e.credMu.Lock()
	e.creds[c] = true
	e.credMu.Unlock()
	return c
}

func (e *keyEnv) accepts(c string) bool {
	e.credMu.Lock()
	defer e.credMu.Unlock()
	return e.creds[c]
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }

func sha256B64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func rsaSign(t *testing.T, k *rsa.PrivateKey, h crypto.Hash, msg string) []byte {
	d := h.New()
	d.Write([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, h, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// phpSerialize writes form fields as Paddle's verification recipe has PHP
// write them: ksort() (every Paddle field name is a non-numeric string, so
// byte order), then serialize() of the array of strings, lengths in bytes.
func phpSerialize(form url.Values) string {
	names := slices.Sorted(maps.Keys(form))
	var b strings.Builder
	fmt.Fprintf(&b, "a:%d:{", len(names))
	for _, n := range names {
		v := form.Get(n)
		fmt.Fprintf(&b, "s:%d:\"%s\";s:%d:\"%s\";", len(n), n, len(v), v)
	}
	b.WriteString("}")
	return b.String()
}

func spki(t *testing.T, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// snsBody is an SNS notification signed the way SNS documents.
func (e *keyEnv) snsBody(t *testing.T, key *rsa.PrivateKey, topic, message string, at time.Time) string {
	m := map[string]string{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topic,
		"Subject": "usage", "Message": message, "Timestamp": at.UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "2",
		"SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
		"UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + topic + ":c9135db0"}
	var s strings.Builder
	for _, k := range []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"} {
		s.WriteString(k + "\n" + m[k] + "\n")
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(rsaSign(t, key, crypto.SHA256, s.String()))
	b, _ := json.Marshal(m)
	return string(b)
}

func keyRecipes(t *testing.T, e *keyEnv) []keyRecipe {
	hmacIdentity := func(t *testing.T) identity {
		s := hex.EncodeToString(randomBytes(t, 24))
		return identity{secret: s, key: []byte(s)}
	}
	jwtHeader := func(name, prefix string) func(t *testing.T, id identity, body string, now time.Time, claims map[string]any, alg string) http.Header {
		return func(t *testing.T, id identity, body string, now time.Time, claims map[string]any, alg string) http.Header {
			return http.Header{"Content-Type": {"application/json"}, name: {prefix + verifytest.JWT(t, alg, id.key, nil, claims)}}
		}
	}
	return []keyRecipe{
		{template: "sendgrid", source: "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features",
			newIdentity: func(t *testing.T) identity {
				k := verifytest.ECKey(t)
				return identity{secret: base64.StdEncoding.EncodeToString(spki(t, &k.PublicKey)), key: k}
			},
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				ts := strconv.FormatInt(now.Unix(), 10)
				d := sha256.Sum256([]byte(ts + body))
				sig, err := ecdsa.SignASN1(rand.Reader, id.key.(*ecdsa.PrivateKey), d[:])
				if err != nil {
					t.Fatal(err)
				}
				return http.Header{"Content-Type": {"application/json"}, "X-Twilio-Email-Event-Webhook-Timestamp": {ts},
					"X-Twilio-Email-Event-Webhook-Signature": {base64.StdEncoding.EncodeToString(sig)}}, body
			}},
		{template: "standardwebhooksv1a", source: "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md",
			newIdentity: func(t *testing.T) identity {
				pub, priv, _ := ed25519.GenerateKey(rand.Reader)
				return identity{secret: "whpk_" + base64.StdEncoding.EncodeToString(pub), key: priv}
			},
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				ts := strconv.FormatInt(now.Unix(), 10)
				sig := ed25519.Sign(id.key.(ed25519.PrivateKey), []byte("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W."+ts+"."+body))
				// A symmetric v1 signature beside it is another scheme's.
				return http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}, "Webhook-Timestamp": {ts},
					"Webhook-Signature": {"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1a," + base64.StdEncoding.EncodeToString(sig)}}, body
			}},
		{template: "wise", source: "https://docs.wise.com/api-docs/features/webhooks-notifications/event-handling",
			newIdentity: func(t *testing.T) identity {
				k := verifytest.RSAKey(t)
				return identity{secret: verifytest.PublicPEM(t, &k.PublicKey), key: k}
			},
			sign: func(t *testing.T, id identity, body string, _ time.Time) (http.Header, string) {
				return http.Header{"Content-Type": {"application/json"}, "X-Delivery-Id": {"0d1f4c1e-7b2a-4a7e-9f1a-2b3c4d5e6f70"},
					"X-Signature-Sha256": {base64.StdEncoding.EncodeToString(rsaSign(t, id.key.(*rsa.PrivateKey), crypto.SHA256, body))}}, body
			}},
		{template: "paddleclassic", source: "https://developer.paddle.com/webhook-reference/verifying-webhooks",
			newIdentity: func(t *testing.T) identity {
				k := verifytest.RSAKey(t)
				return identity{secret: verifytest.PublicPEM(t, &k.PublicKey), key: k}
			},
			sign: func(t *testing.T, id identity, body string, _ time.Time) (http.Header, string) {
				form, err := url.ParseQuery(body)
				if err != nil {
					t.Fatal(err)
				}
				form.Del("p_signature")
				sig := rsaSign(t, id.key.(*rsa.PrivateKey), crypto.SHA1, phpSerialize(form))
				form.Set("p_signature", base64.StdEncoding.EncodeToString(sig))
				return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode()
			},
			tamper: func(b string) string { return strings.Replace(b, "quantity=1", "quantity=9", 1) }},
		{template: "lago", source: "https://getlago.com/docs/api-reference/webhooks/format---signature",
			newIdentity: func(t *testing.T) identity {
				k := verifytest.RSAKey(t)
				// As Lago's API hands the key out: base64 of the PEM.
				return identity{secret: base64.StdEncoding.EncodeToString([]byte(verifytest.PublicPEM(t, &k.PublicKey))), key: k}
			},
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				h := jwtHeader("X-Lago-Signature", "")(t, id, body, now, map[string]any{"data": body, "iss": "https://api.getlago.com"}, "RS256")
				h.Set("X-Lago-Signature-Algorithm", "jwt")
				h.Set("X-Lago-Unique-Key", "1fe6c2d5-2a4b-4cde-9f10-5b6a7c8d9e0f")
				return h, body
			}},
		{template: "fusionauth", source: "https://fusionauth.io/docs/extend/events-and-webhooks/signing",
			newIdentity: hmacIdentity,
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				return jwtHeader("X-Fusionauth-Signature-Jwt", "")(t, id, body, now, map[string]any{"request_body_sha256": sha256B64(body)}, "HS256"), body
			}},
		{template: "vonage", source: "https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks",
			newIdentity: hmacIdentity,
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				return jwtHeader("Authorization", "Bearer ")(t, id, body, now, map[string]any{"iat": now.Unix(), "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
					"iss": "Vonage", "payload_hash": sha256Hex(body), "api_key": "a1b2c3d4", "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}, "HS256"), body
			}},
		{template: "netlify", source: "https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature",
			newIdentity: hmacIdentity,
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				return jwtHeader("X-Webhook-Signature", "")(t, id, body, now, map[string]any{"iss": "netlify", "sha256": sha256Hex(body)}, "HS256"), body
			}},
		{template: "awssns", source: "https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html",
			newIdentity: func(t *testing.T) identity {
				return identity{secret: "arn:aws:sns:us-west-2:123456789012:" + hex.EncodeToString(randomBytes(t, 4)), key: e.rsa}
			},
			sign: func(t *testing.T, id identity, _ string, now time.Time) (http.Header, string) {
				return http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "X-Amz-Sns-Message-Type": {"Notification"}},
					e.snsBody(t, id.key.(*rsa.PrivateKey), id.secret, `{"notificationType":"Delivery","mail":{"messageId":"m1"}}`, now)
			},
			tamper:     func(body string) string { return strings.Replace(body, "Delivery", "Bounce", 1) },
			foreignKey: otherRSAKey},
		{template: "paypal", source: "https://developer.paypal.com/api/rest/webhooks/rest/",
			newIdentity: func(t *testing.T) identity {
				return identity{secret: strings.ToUpper(hex.EncodeToString(randomBytes(t, 8))), key: e.rsa}
			},
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				tid, at := "69cd13f0-d67a-11e5-baa3-778b53f4ae55", now.UTC().Format(time.RFC3339)
				msg := tid + "|" + at + "|" + id.secret + "|" + strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)
				return http.Header{"Content-Type": {"application/json"}, "Paypal-Transmission-Id": {tid}, "Paypal-Transmission-Time": {at},
					"Paypal-Auth-Algo": {"SHA256withRSA"}, "Paypal-Cert-Url": {"https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"},
					"Paypal-Transmission-Sig": {base64.StdEncoding.EncodeToString(rsaSign(t, id.key.(*rsa.PrivateKey), crypto.SHA256, msg))}}, body
			},
			foreignKey: otherRSAKey},
		{template: "googleplay", source: "https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions",
			newIdentity: func(t *testing.T) identity {
				return identity{secret: "https://hooks.example.com/v1/ingest/webhook/" + hex.EncodeToString(randomBytes(t, 8)), key: e.rsa}
			},
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				tok := verifytest.JWT(t, "RS256", id.key, map[string]any{"kid": "google-1"}, map[string]any{"aud": id.secret,
					"azp": "113774264463038321964", "email": "play-rtdn@myproject.iam.gserviceaccount.com", "email_verified": true,
					"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://accounts.google.com", "sub": "113774264463038321964"})
				return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}, body
			},
			// The token does not cover the body (Pub/Sub signs none); a
			// change to the token is what must fail.
			tamper:     nil,
			foreignKey: otherRSAKey},
		{template: "appstore", source: "https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv2",
			newIdentity: func(t *testing.T) identity {
				return identity{secret: "com.example." + hex.EncodeToString(randomBytes(t, 4)), key: e.ec}
			},
			sign: func(t *testing.T, id identity, _ string, now time.Time) (http.Header, string) {
				x5c := map[string]any{"x5c": e.appleX5C}
				tx := verifytest.JWT(t, "ES256", id.key, x5c, map[string]any{"transactionId": "2000000543210987", "originalTransactionId": "2000000123456789",
					"bundleId": id.secret, "productId": "pro_monthly", "purchaseDate": now.UnixMilli(), "type": "Auto-Renewable Subscription",
					"appAccountToken": "7e3fb20b-4cdb-47cc-936d-99d65f608138", "environment": "Production", "signedDate": now.UnixMilli()})
				tok := verifytest.JWT(t, "ES256", id.key, x5c, map[string]any{"notificationType": "DID_RENEW", "notificationUUID": "002e14d5-51f5-4503-b5a8-c3a1af68eb20",
					"version": "2.0", "signedDate": now.UnixMilli(), "data": map[string]any{"appAppleId": 1234567890, "bundleId": id.secret,
						"environment": "Production", "signedTransactionInfo": tx, "status": 1}})
				return http.Header{"Content-Type": {"application/json"}}, `{"signedPayload":"` + tok + `"}`
			},
			tamper:     func(body string) string { return tamperToken(body, strings.LastIndex(body, `"`)) },
			foreignKey: otherECKey},
		{template: "fireblocks", source: "https://developers.fireblocks.com/reference/validating-webhooks",
			newIdentity: func(t *testing.T) identity {
				return identity{secret: "0f1e2d3c-4b5a-6978-8a9b-" + hex.EncodeToString(randomBytes(t, 6)), key: e.rsa}
			},
			sign: func(t *testing.T, id identity, body string, _ time.Time) (http.Header, string) {
				body = strings.Replace(body, "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5c", id.secret, 1)
				header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS512","kid":"fireblocks-1","typ":"JWT"}`))
				sig := verifytest.SignJWS(t, "RS512", id.key, []byte(header+"."+base64.RawURLEncoding.EncodeToString([]byte(body))))
				return http.Header{"Content-Type": {"application/json"},
					"Fireblocks-Webhook-Signature": {header + ".." + base64.RawURLEncoding.EncodeToString(sig)}}, body
			},
			foreignKey: otherRSAKey},
		{template: "kinde", source: "https://docs.kinde.com/integrate/webhooks/add-manage-webhooks",
			newIdentity: func(t *testing.T) identity {
				host, k := "biz"+hex.EncodeToString(randomBytes(t, 4))+".kinde.com", verifytest.RSAKey(t)
				e.credMu.Lock()
				e.kinde[host] = k
				e.credMu.Unlock()
				return identity{secret: host, key: k}
			},
			sign: func(t *testing.T, id identity, _ string, now time.Time) (http.Header, string) {
				tok := verifytest.JWT(t, "RS256", id.key, map[string]any{"kid": "kinde-1"}, map[string]any{"type": "user.created",
					"webhook_id": "webhook_0193a1b2c3d4", "event_id": "event_0193a1b2c3d5", "timestamp": now.Format(time.RFC3339), "source": "admin",
					"data": map[string]any{"user": map[string]any{"id": "kp_57ba4a5d1b2c4e0f", "email": "jane@example.com"}}, "iat": now.Unix()})
				return http.Header{"Content-Type": {"application/jwt"}}, tok
			},
			tamper:     func(body string) string { return tamperToken(body, len(body)) },
			foreignKey: otherRSAKey},
		{template: "wix", source: "https://dev.wix.com/docs/rest/articles/get-started/webhook-structure",
			newIdentity: func(t *testing.T) identity {
				k := verifytest.RSAKey(t)
				return identity{secret: verifytest.PublicPEM(t, &k.PublicKey), key: k}
			},
			sign: func(t *testing.T, id identity, _ string, now time.Time) (http.Header, string) {
				inner, _ := json.Marshal(map[string]any{"id": "6b1c1f0e-3f2a-4a5b-9c8d-7e6f5a4b3c2d", "entityFqdn": "wix.ecom.v1.order", "slug": "created",
					"entityId": "cf1e0b5f-2d3a-4c1b-8e9f-0a1b2c3d4e5f", "eventTime": now.Format(time.RFC3339), "createdEvent": map[string]any{"entity": map[string]any{"number": "10001"}}})
				identityJSON, _ := json.Marshal(map[string]any{"identityType": "MEMBER", "memberId": "8f7e6d5c"})
				data, _ := json.Marshal(map[string]any{"eventType": "wix.ecom.v1.order_created", "instanceId": "a1b2c3d4-0000-4000-8000-123456789abc",
					"data": string(inner), "identity": string(identityJSON)})
				tok := verifytest.JWT(t, "RS256", id.key, map[string]any{"kid": "wix-1"}, map[string]any{"data": string(data), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
				return http.Header{"Content-Type": {"text/plain"}}, tok
			},
			tamper: func(body string) string { return tamperToken(body, len(body)) }},
		{template: "plaid", source: "https://plaid.com/docs/api/webhooks/webhook-verification/",
			newIdentity: func(t *testing.T) identity { return identity{secret: e.credential(t, "client"), key: e.ec} },
			sign: func(t *testing.T, id identity, body string, now time.Time) (http.Header, string) {
				tok := verifytest.JWT(t, "ES256", id.key, map[string]any{"kid": "plaid-1"}, map[string]any{"iat": now.Unix(), "request_body_sha256": sha256Hex(body)})
				return http.Header{"Content-Type": {"application/json"}, "Plaid-Verification": {tok}}, body
			},
			// A credential Plaid's key endpoint refuses: the key cannot be
			// had, which is a 503 the provider retries (and a log line).
			wrongSecret: verify.ErrKeyUnavailable,
			foreignKey:  otherECKey},
		{template: "circle", source: "https://developers.circle.com/api-reference/verify-webhook-signatures",
			newIdentity: func(t *testing.T) identity { return identity{secret: e.credential(t, "TEST_API_KEY"), key: e.ec} },
			sign: func(t *testing.T, id identity, body string, _ time.Time) (http.Header, string) {
				d := sha256.Sum256([]byte(body))
				sig, err := ecdsa.SignASN1(rand.Reader, id.key.(*ecdsa.PrivateKey), d[:])
				if err != nil {
					t.Fatal(err)
				}
				return http.Header{"Content-Type": {"application/json"}, "X-Circle-Key-Id": {"879dc113-5ca4-4ff7-a6b7-54652083fcf8"},
					"X-Circle-Signature": {base64.StdEncoding.EncodeToString(sig)}}, body
			},
			wrongSecret: verify.ErrKeyUnavailable,
			foreignKey:  otherECKey},
	}
}

// tamperToken changes one character of a token's signature, ten before
// end (its last characters may carry unused bits).
func tamperToken(s string, end int) string {
	i := end - 10
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// otherRSAKey and otherECKey sign as id with a key the provider does not
// hold.
func otherRSAKey(t *testing.T, id identity) identity {
	return identity{secret: id.secret, key: verifytest.RSAKey(t)}
}

func otherECKey(t *testing.T, id identity) identity {
	return identity{secret: id.secret, key: verifytest.ECKey(t)}
}

// asymmetric reports whether a scheme is checked by TestKeyTemplates
// rather than TestEveryTemplate (which signs with the source's secret).
func asymmetric(s *plugsv1.SignatureScheme) bool {
	switch s.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, plugsv1.SignatureScheme_ALGORITHM_JWT:
		return true
	}
	return false
}

// keyTemplates lists the templates with a key recipe, for
// TestEveryTemplateHasAVector.
var keyTemplates = []string{"paddleclassic", "fireblocks", "kinde", "wix", "sendgrid", "standardwebhooksv1a", "wise", "lago", "fusionauth", "vonage", "netlify", "awssns",
	"paypal", "googleplay", "appstore", "plaid", "circle"}

func TestKeyTemplates(t *testing.T) {
	e := newKeyEnv(t)
	catalog := templates.MustBuiltin()
	covered := map[string]bool{}
	for _, r := range keyRecipes(t, e) {
		covered[r.template] = true
		t.Run(r.template, func(t *testing.T) {
			tpl, err := catalog.Get(r.template)
			if err != nil {
				t.Fatal(err)
			}
			scheme := tpl.GetSignatureScheme()
			body := strings.TrimSpace(tpl.GetSamplePayload())
			now := time.Now().UTC().Truncate(time.Second)
			check := func(secrets []*plugsv1.SigningSecret, h http.Header, b string, at time.Time) (*verify.Request, error) {
				v, err := verify.Compile(scheme, secrets)
				if err != nil {
					t.Fatal(err)
				}
				if p := v.Problems(); len(p) > 0 {
					t.Fatalf("secrets left out: %v", p)
				}
				req := &verify.Request{Method: http.MethodPost, URL: "https://hooks.example.com/v1/ingest/webhook/x", Header: h,
					Body: payload.New([]byte(b), h.Get("Content-Type"))}
				return req, v.Verify(req, verify.Options{Now: at, Keys: e.keys, Context: t.Context()})
			}
			current, previous, stranger := r.newIdentity(t), r.newIdentity(t), r.newIdentity(t)
			secrets := []*plugsv1.SigningSecret{{Id: "current", Value: []byte(current.secret)}}
			h, b := r.sign(t, current, body, now)
			req, err := check(secrets, h, b, now)
			if err != nil {
				t.Fatalf("recipe of %s: %v", r.source, err)
			}
			t.Run("maps", func(t *testing.T) {
				mp, err := mapping.Compile(tpl.GetFieldMappings(), nil)
				if err != nil {
					t.Fatal(err)
				}
				doc := req.Body
				if req.Document != nil {
					doc = req.Document
				}
				ev := &plugsv1.UsageEvent{}
				if _, err := mp.Map(mapping.Input{Body: doc, Header: h, ReceiveTime: now}, ev); err != nil {
					t.Fatalf("mapping: %v", err)
				}
				if ev.GetEventType() == "" {
					t.Error("no event type")
				}
				if tpl.GetFieldMappings().GetEventId() != nil && ev.GetEventId() == "" {
					t.Error("no event id")
				}
			})
			t.Run("tampered", func(t *testing.T) {
				tampered, th := b+" ", h
				if r.tamper != nil {
					tampered = r.tamper(b)
				} else if r.template == "googleplay" {
					th = h.Clone()
					tok := th.Get("Authorization")
					th.Set("Authorization", tamperToken(tok, len(tok)))
				}
				if _, err := check(secrets, th, tampered, now); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				want := r.wrongSecret
				if want == nil {
					want = verify.ErrSignatureInvalid
				}
				sh, sb, sec := h, b, []*plugsv1.SigningSecret{{Id: "stranger", Value: []byte("client:refused-credential")}}
				if r.wrongSecret == nil {
					// Signed by another source's identity, checked against
					// this source's secret.
					sh, sb = r.sign(t, stranger, body, now)
					sec = secrets
				}
				if _, err := check(sec, sh, sb, now); !errors.Is(err, want) {
					t.Fatalf("got %v, want %v", err, want)
				}
			})
			if r.foreignKey != nil {
				t.Run("key the provider does not hold", func(t *testing.T) {
					fh, fb := r.sign(t, r.foreignKey(t, current), body, now)
					if _, err := check(secrets, fh, fb, now); !errors.Is(err, verify.ErrSignatureInvalid) {
						t.Fatalf("got %v", err)
					}
				})
			}
			t.Run("stale", func(t *testing.T) {
				v, _ := verify.Compile(scheme, nil)
				window := v.ReplayWindow()
				if window == 0 && !scheme.GetJwt().GetRequireExpiry() {
					t.Skip("the provider signs no time")
				}
				at := now.Add(-window - 2*time.Hour)
				oh, ob := r.sign(t, current, body, at)
				if _, err := check(secrets, oh, ob, now); !errors.Is(err, verify.ErrSignatureStale) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("missing signature", func(t *testing.T) {
				mh, mb := h.Clone(), b
				switch {
				case scheme.GetJwt().GetJsonPath() != "":
					mb = `{"other":"field"}`
				case scheme.GetJwt().GetWholeBody():
					mb = ""
				case scheme.GetJwt().GetHeader() != "":
					mh.Del(scheme.GetJwt().GetHeader())
				case scheme.GetSignatureJsonPath() != "" && payload.IsForm(h.Get("Content-Type")):
					form, _ := url.ParseQuery(b)
					form.Del(strings.TrimPrefix(scheme.GetSignatureJsonPath(), "$."))
					mb = form.Encode()
				case scheme.GetSignatureJsonPath() != "":
					var m map[string]any
					_ = json.Unmarshal([]byte(b), &m)
					delete(m, strings.TrimPrefix(scheme.GetSignatureJsonPath(), "$."))
					raw, _ := json.Marshal(m)
					mb = string(raw)
				default:
					mh.Del(scheme.GetHeader())
				}
				if _, err := check(secrets, mh, mb, now); !errors.Is(err, verify.ErrSignatureMissing) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("no secret", func(t *testing.T) {
				if _, err := check(nil, h, b, now); !errors.Is(err, verify.ErrSecretMissing) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("rotated secret", func(t *testing.T) {
				ph, pb := r.sign(t, previous, body, now)
				rotated := []*plugsv1.SigningSecret{
					{Id: "current", Value: []byte(current.secret)},
					{Id: "previous", Value: []byte(previous.secret), ExpireTime: timestamppb.New(now.Add(time.Hour))},
				}
				if _, err := check(rotated, ph, pb, now); err != nil {
					t.Fatalf("previous secret before expiry: %v", err)
				}
				if _, err := check(rotated, h, b, now); err != nil {
					t.Fatalf("current secret: %v", err)
				}
				rotated[1].ExpireTime = timestamppb.New(now.Add(-time.Second))
				want := r.wrongSecret
				if want == nil {
					want = verify.ErrSignatureInvalid
				}
				if r.wrongSecret != nil {
					// A credential signs nothing: the current one fetches the
					// key, so a request signed by the provider still passes.
					want = nil
				}
				if _, err := check(rotated, ph, pb, now); !errors.Is(err, want) {
					t.Fatalf("previous secret after expiry: got %v, want %v", err, want)
				}
			})
		})
	}
	for _, id := range catalog.IDs() {
		tpl, _ := catalog.Get(id)
		if asymmetric(tpl.GetSignatureScheme()) && !covered[id] {
			t.Errorf("%s: public-key or token template without a key recipe", id)
		}
	}
	for _, id := range keyTemplates {
		if !covered[id] {
			t.Errorf("%s is listed in keyTemplates but has no recipe", id)
		}
	}
}

// The awssns template confirms a subscription SNS signed for the source's
// topic, by visiting its SubscribeURL once, and never one of another topic
// or on another host.
func TestAWSSNSSubscriptionConfirmation(t *testing.T) {
	e := newKeyEnv(t)
	var visits atomic.Int32
	e.ks.Handle("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") == "ConfirmSubscription" {
			visits.Add(1)
		}
	})
	tpl, err := templates.MustBuiltin().Get("awssns")
	if err != nil {
		t.Fatal(err)
	}
	const topic = "arn:aws:sns:us-west-2:123456789012:billing"
	v, err := verify.Compile(tpl.GetSignatureScheme(), []*plugsv1.SigningSecret{{Id: "s", Value: []byte(topic)}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	confirmation := func(topic, subscribe string) *verify.Request {
		m := map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37",
			"TopicArn": topic, "Message": "You have chosen to subscribe to the topic " + topic + ".", "SubscribeURL": subscribe,
			"Timestamp": now.Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "2",
			"SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"}
		var s strings.Builder
		for _, k := range []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"} {
			s.WriteString(k + "\n" + m[k] + "\n")
		}
		m["Signature"] = base64.StdEncoding.EncodeToString(rsaSign(t, e.rsa, crypto.SHA256, s.String()))
		b, _ := json.Marshal(m)
		return &verify.Request{Method: http.MethodPost, URL: "https://hooks.example.com/v1/ingest/webhook/x",
			Header: http.Header{"Content-Type": {"text/plain; charset=UTF-8"}, "X-Amz-Sns-Message-Type": {"SubscriptionConfirmation"}},
			Body:   payload.New(b, "text/plain; charset=UTF-8")}
	}
	opts := verify.Options{Now: now, Keys: e.keys, Context: t.Context()}
	answer := func(req *verify.Request) (*verify.Answer, error) {
		if err := v.Verify(req, opts); err != nil {
			return nil, err
		}
		return v.Handshake(req, "", true, opts)
	}
	subscribe := "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37"
	ans, err := answer(confirmation(topic, subscribe))
	if err != nil || ans == nil || visits.Load() != 1 {
		t.Fatalf("answer %v, error %v, %d visits", ans, err, visits.Load())
	}
	if _, err := answer(confirmation("arn:aws:sns:us-west-2:123456789012:other", subscribe)); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another topic: %v", err)
	}
	if _, err := answer(confirmation(topic, "https://sns.us-west-2.amazonaws.com.evil.example/?Action=ConfirmSubscription")); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("another host: %v", err)
	}
	if n := visits.Load(); n != 1 {
		t.Fatalf("%d visits", n)
	}
}
