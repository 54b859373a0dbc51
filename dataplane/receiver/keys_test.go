package receiver_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
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
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ks.Handle("/jwks", func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case 0:
			http.Error(w, "down", http.StatusBadGateway)
		case 1:
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{verifytest.JWK(t, &key.PublicKey, "k1")}})
		}
	})
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
