package receiver_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// A source whose key is fetched from the provider: while the key server
// is slow or down, webhooks are answered 503 with Retry-After within the
// fetcher's bounded wait and nothing is accepted; once it answers, the
// event is mapped from the verified document (the decoded Pub/Sub data).
func TestFetchedKeyUnavailable(t *testing.T) {
	const host, id = "keys.example.com", "0192d1a0-0000-7000-8000-0000000000f1"
	ks := verifytest.NewKeyServer(t, host)
	key := verifytest.RSAKey(t)
	var mode atomic.Int32 // 0 down, 1 slow, 2 up
	ks.Handle("/jwks", keyServer(t, &mode, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(t, &key.PublicKey, "k1")}})
	}))
	sc := &plugsv1.SourceConfig{Id: id, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
			Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"RS256"},
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_JWKS, Url: "https://" + host + "/jwks"}, PinClaim: "$.aud",
			DecodeBase64JsonPaths: []string{"$.message.data"}}},
		FieldMappings: &plugsv1.FieldMappings{
			EventId:    &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.message.messageId"}, Required: true},
			EventType:  &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.message.data.kind"}, Required: true},
			CustomerId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.message.data.customer"}}},
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte("my-audience")}},
	}
	keys := ks.Fetcher(t, verify.FetcherOptions{Wait: 200 * time.Millisecond, NegativeTTL: 7 * time.Second})
	f := serve(t, []*plugsv1.SourceConfig{sc}, nil, pipeline.Options{Keys: keys}, receiver.Options{})
	data := base64.StdEncoding.EncodeToString([]byte(`{"kind":"usage.recorded","customer":"cus_9"}`))
	body := `{"message":{"data":"` + data + `","messageId":"m-1"},"subscription":"s"}`
	now := time.Now().Unix()
	token := verifytest.JWT(t, "RS256", key, map[string]any{"kid": "k1"}, map[string]any{"aud": "my-audience", "iat": now, "exp": now + 600})
	h := http.Header{"Authorization": {"Bearer " + token}}

	status, out, hdr := f.post(t, id, h, body)
	if status != http.StatusServiceUnavailable || out["cause"] != string(pipeline.CauseKeyUnavailable) {
		t.Fatalf("key server down: %d %v", status, out)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 7 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}

	// Another source URL of the same scheme, the key server now slow.
	mode.Store(1)
	sc2 := proto.Clone(sc).(*plugsv1.SourceConfig)
	sc2.SignatureScheme.Jwt.Keys.Url = "https://" + host + "/jwks?slow"
	start := time.Now()
	f2 := serve(t, []*plugsv1.SourceConfig{sc2}, nil, pipeline.Options{Keys: keys}, receiver.Options{})
	status, out, _ = f2.post(t, id, h, body)
	if status != http.StatusServiceUnavailable || out["cause"] != string(pipeline.CauseKeyUnavailable) {
		t.Fatalf("key server slow: %d %v", status, out)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("held %s waiting for a key", waited)
	}
	if f.sink.count()+f2.sink.count() != 0 {
		t.Fatal("an event was accepted without its key")
	}

	mode.Store(2)
	keys = ks.Fetcher(t, verify.FetcherOptions{})
	f3 := serve(t, []*plugsv1.SourceConfig{sc}, nil, pipeline.Options{Keys: keys}, receiver.Options{})
	if status, out, _ := f3.post(t, id, h, body); status != http.StatusOK {
		t.Fatalf("key server up: %d %v", status, out)
	}
	f3.sink.mu.Lock()
	ev := f3.sink.events[0]
	f3.sink.mu.Unlock()
	if ev.GetEventType() != "usage.recorded" || ev.GetCustomerId() != "cus_9" || ev.GetEventId() != "m-1" {
		t.Fatalf("event %v", ev)
	}
	// A token for another audience is a forgery, not an outage.
	other := verifytest.JWT(t, "RS256", key, map[string]any{"kid": "k1"}, map[string]any{"aud": "theirs", "iat": now, "exp": now + 600})
	if status, out, _ := f3.post(t, id, http.Header{"Authorization": {"Bearer " + other}}, body); status != http.StatusUnauthorized {
		t.Fatalf("another audience: %d %v", status, out)
	}
}

// keyServer answers as a provider's key server in the state mode holds: 0
// down (an error status), 1 slow (no answer until the test ends or the
// caller gives up), 2 up (up answers).
func keyServer(t *testing.T, mode *atomic.Int32, up http.HandlerFunc) http.HandlerFunc {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			http.Error(w, "down", http.StatusBadGateway)
		case 1:
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			up(w, r)
		}
	}
}

// A public-key source whose key is asked of the provider's key endpoint
// (Circle's): while the endpoint is down or slow, webhooks are answered 503
// key_unavailable with Retry-After and nothing is accepted; once it
// answers, the same webhook is accepted.
func TestKeyEndpointUnavailable(t *testing.T) {
	const host, id = "api.keys.example.com", "0192d1a0-0000-7000-8000-0000000000f2"
	ks := verifytest.NewKeyServer(t, host)
	key := verifytest.ECKey(t)
	var mode atomic.Int32 // 0 down, 1 slow, 2 up
	ks.Handle("GET /v2/publicKey/{id}", keyServer(t, &mode, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer api-key-0123456789abcdef" || r.PathValue("id") != "k1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"publicKey": base64.StdEncoding.EncodeToString(der)}})
	}))
	source := func(path string) *plugsv1.SourceConfig {
		return &plugsv1.SourceConfig{Id: id, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
			SignatureScheme: &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY,
				Encoding: plugsv1.SignatureScheme_ENCODING_BASE64, Header: "X-Signature",
				SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}},
				PublicKey: &plugsv1.PublicKeyScheme{Algorithm: plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256,
					Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_KEY_ENDPOINT, Url: "https://" + host + path, KeyIdHeader: "X-Key-Id",
						Endpoint: &plugsv1.KeyEndpoint{Headers: map[string]string{"Authorization": "Bearer {secret}"}, KeyJsonPath: "$.data.publicKey"}}}},
			FieldMappings: &plugsv1.FieldMappings{
				EventId:   &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.id"}, Required: true},
				EventType: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.type"}, Required: true}},
			Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte("api-key-0123456789abcdef")}},
		}
	}
	body := `{"id":"n-1","type":"payments"}`
	digest := sha256.Sum256([]byte(body))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"X-Signature": {base64.StdEncoding.EncodeToString(sig)}, "X-Key-Id": {"k1"}}
	keys := ks.Fetcher(t, verify.FetcherOptions{Wait: 200 * time.Millisecond, NegativeTTL: 7 * time.Second})

	down := serve(t, []*plugsv1.SourceConfig{source("/v2/publicKey/{kid}")}, nil, pipeline.Options{Keys: keys}, receiver.Options{})
	status, out, hdr := down.post(t, id, h, body)
	if status != http.StatusServiceUnavailable || out["cause"] != string(pipeline.CauseKeyUnavailable) {
		t.Fatalf("key endpoint down: %d %v", status, out)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 7 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}

	mode.Store(1)
	start := time.Now()
	slow := serve(t, []*plugsv1.SourceConfig{source("/v2/publicKey/{kid}?slow")}, nil, pipeline.Options{Keys: keys}, receiver.Options{})
	if status, out, _ := slow.post(t, id, h, body); status != http.StatusServiceUnavailable || out["cause"] != string(pipeline.CauseKeyUnavailable) {
		t.Fatalf("key endpoint slow: %d %v", status, out)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("held %s waiting for a key", waited)
	}
	if down.sink.count()+slow.sink.count() != 0 {
		t.Fatal("an event was accepted without its key")
	}

	mode.Store(2)
	up := serve(t, []*plugsv1.SourceConfig{source("/v2/publicKey/{kid}")}, nil, pipeline.Options{Keys: ks.Fetcher(t, verify.FetcherOptions{})}, receiver.Options{})
	if status, out, _ := up.post(t, id, h, body); status != http.StatusOK || up.sink.count() != 1 {
		t.Fatalf("key endpoint up: %d %v", status, out)
	}
}

// AWS SNS's subscription confirmation through the receiver: verified, its
// SubscribeURL visited, answered 200 without an event; while the URL
// fails, 503 key_unavailable so SNS sends it again.
func TestSNSConfirmationAnswered(t *testing.T) {
	const host, id = "sns.us-east-1.amazonaws.com", "0192d1a0-0000-7000-8000-0000000000f3"
	const topic = "arn:aws:sns:us-east-1:123456789012:usage"
	ks := verifytest.NewKeyServer(t, host)
	key := verifytest.RSAKey(t)
	cert := verifytest.NewCA(t, "Test Amazon CA").Issue(t, verifytest.CertOptions{CommonName: "sns.amazonaws.com", Key: key})
	ks.Handle("GET /SimpleNotificationService-test.pem", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(verifytest.PEM(cert))
	})
	var visits, failing atomic.Int32
	ks.Handle("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() == 1 {
			http.Error(w, "throttled", http.StatusServiceUnavailable)
			return
		}
		visits.Add(1)
	})
	tpl, err := templates.MustBuiltin().Get("awssns")
	if err != nil {
		t.Fatal(err)
	}
	sc := &plugsv1.SourceConfig{Id: id, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte(topic)}}}
	f := serve(t, []*plugsv1.SourceConfig{sc}, nil, pipeline.Options{Keys: ks.Fetcher(t, verify.FetcherOptions{})}, receiver.Options{})
	m := map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "t0k", "TopicArn": topic,
		"Message": "You have chosen to subscribe.", "SubscribeURL": "https://" + host + "/?Action=ConfirmSubscription&Token=t0k",
		"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "2",
		"SigningCertURL": "https://" + host + "/SimpleNotificationService-test.pem"}
	var s strings.Builder
	for _, k := range []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"} {
		s.WriteString(k + "\n" + m[k] + "\n")
	}
	digest := sha256.Sum256([]byte(s.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	b, _ := json.Marshal(m)
	h := http.Header{"Content-Type": {"text/plain; charset=UTF-8"}}

	failing.Store(1)
	if status, out, _ := f.post(t, id, h, string(b)); status != http.StatusServiceUnavailable || out["cause"] != string(pipeline.CauseKeyUnavailable) {
		t.Fatalf("SubscribeURL failing: %d %v", status, out)
	}
	failing.Store(0)
	if status, out, _ := f.post(t, id, h, string(b)); status != http.StatusOK || visits.Load() != 1 || f.sink.count() != 0 {
		t.Fatalf("confirmation: %d %v, %d visits, %d events", status, out, visits.Load(), f.sink.count())
	}
}
