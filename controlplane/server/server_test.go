package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/logging"
	"github.com/plugshq/plugs/templates"
)

const dataPlaneToken = "dp-test-token-0123456789"

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a running control plane with two tenants.
type env struct {
	t          *testing.T
	srv        *server.Server
	conn       *grpc.ClientConn
	keyA, keyB string
	logs       *syncBuffer
	// seen holds every response body, gRPC and REST, for the secret scan.
	mu   sync.Mutex
	seen [][]byte
}

func (e *env) record(b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, bytes.Clone(b))
}

func startEnv(t *testing.T, dialect string) *env {
	t.Helper()
	return startEnvWith(t, dialect, func(*server.Config) {})
}

// startEnvWith is startEnv with a change to the server's configuration.
func startEnvWith(t *testing.T, dialect string, change func(*server.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dialect)
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	logs := &syncBuffer{}
	e := &env{t: t, logs: logs}
	cfg := server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		PublicIngestURL: "https://ingest.example.com",
		DataPlaneTokens: []string{dataPlaneToken},
		Log:             slog.New(logging.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}
	change(&cfg)
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	e.srv = srv
	_, e.keyA, err = auth.Bootstrap(ctx, db.Client, "tenant-a", "a")
	if err != nil {
		t.Fatal(err)
	}
	_, e.keyB, err = auth.Bootstrap(ctx, db.Client, "tenant-b", "b")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if m, ok := reply.(proto.Message); ok {
				b, _ := protojson.Marshal(m)
				e.record(b)
			}
			if err != nil {
				e.record([]byte(err.Error()))
				if st, ok := status.FromError(err); ok {
					b, _ := protojson.Marshal(st.Proto())
					e.record(b)
				}
			}
			return err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.conn = conn
	return e
}

func as(key string) context.Context {
	// Calls are bounded by the gRPC client's own deadline handling in the
	// test; the background context keeps the helper simple.
	ctx := context.Background()
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func (e *env) sources() plugsv1.SourceServiceClient { return plugsv1.NewSourceServiceClient(e.conn) }

// firstSnapshot opens a configuration stream as a data plane holding
// nothing, once the shared cache (which follows commits in the background)
// has reached revision, and returns the stream and its first answer.
func (e *env) firstSnapshot(t *testing.T, revision int64) (plugsv1.ConfigDiscoveryService_StreamConfigClient, *plugsv1.StreamConfigResponse) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Cache.Revision() < revision {
		if time.Now().After(deadline) {
			t.Fatalf("cache never reached revision %d", revision)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(as(dataPlaneToken))
	t.Cleanup(cancel)
	st, err := plugsv1.NewConfigDiscoveryServiceClient(e.conn).StreamConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&plugsv1.StreamConfigRequest{Node: &plugsv1.Node{Id: "dp-1"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return st, resp
}

// rest calls the REST gateway and returns the status and body.
func (e *env) rest(method, path, key, body string) (int, []byte) {
	e.t.Helper()
	return e.restWithID(method, path, key, body, "")
}

// restWithID is rest sending an X-Request-Id unless id is empty.
func (e *env) restWithID(method, path, key, body, id string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, "http://"+e.srv.HTTPAddr+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.record(b)
	return resp.StatusCode, b
}

func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("got %v (%v), want %v", st.Code(), err, code)
	}
	return st
}

func newSource(name, secret string) *plugsv1.CreateSourceRequest {
	return &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: name, TemplateId: "stripe", MetricId: "api_calls", Secret: secret,
	}}
}

const secretA = "whsec_tenantA_plaintext_secret_1"

func TestTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testTenantIsolation(t, d) })
	}
}

func testTenantIsolation(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	src, err := e.sources().CreateSource(as(e.keyA), newSource("a's source", secretA))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.sources().GetSource(as(e.keyA), &plugsv1.GetSourceRequest{Id: src.GetId()})
	b := as(e.keyB)
	_, err = e.sources().GetSource(b, &plugsv1.GetSourceRequest{Id: src.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = e.sources().UpdateSource(b, &plugsv1.UpdateSourceRequest{
		Source:     &plugsv1.Source{Id: src.GetId(), DisplayName: "stolen"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
	})
	wantCode(t, err, codes.NotFound)
	_, err = e.sources().RotateSecret(b, &plugsv1.RotateSecretRequest{Id: src.GetId(), Secret: "attacker_secret_0123456789"})
	wantCode(t, err, codes.NotFound)
	_, err = e.sources().PreviewMapping(b, &plugsv1.PreviewMappingRequest{Id: src.GetId(), Body: `{"id":"x","type":"y"}`})
	wantCode(t, err, codes.NotFound)
	_, err = e.sources().DeleteSource(b, &plugsv1.DeleteSourceRequest{Id: src.GetId()})
	wantCode(t, err, codes.NotFound)
	list, err := e.sources().ListSources(b, &plugsv1.ListSourcesRequest{})
	if err != nil || len(list.GetSources()) != 0 {
		t.Fatalf("tenant B lists %d sources (%v)", len(list.GetSources()), err)
	}
	// A missing id answers exactly like another tenant's id.
	_, errMissing := e.sources().GetSource(b, &plugsv1.GetSourceRequest{Id: "01936b8e-0000-7000-8000-000000000000"})
	_, errOther := e.sources().GetSource(b, &plugsv1.GetSourceRequest{Id: src.GetId()})
	if status.Code(errMissing) != status.Code(errOther) || status.Convert(errMissing).Message() != status.Convert(errOther).Message() {
		t.Fatalf("missing %v vs other tenant %v", errMissing, errOther)
	}

	keys := plugsv1.NewApiKeyServiceClient(e.conn)
	aKeys, err := keys.ListApiKeys(as(e.keyA), &plugsv1.ListApiKeysRequest{})
	if err != nil || len(aKeys.GetApiKeys()) != 1 {
		t.Fatalf("A's keys: %v %v", aKeys, err)
	}
	_, err = keys.DeleteApiKey(b, &plugsv1.DeleteApiKeyRequest{Id: aKeys.GetApiKeys()[0].GetId()})
	wantCode(t, err, codes.NotFound)
	bKeys, _ := keys.ListApiKeys(b, &plugsv1.ListApiKeysRequest{})
	for _, k := range bKeys.GetApiKeys() {
		if k.GetId() == aKeys.GetApiKeys()[0].GetId() {
			t.Fatal("B sees A's key")
		}
	}

	// REST says the same.
	if code, body := e.rest("GET", "/v1/sources/"+src.GetId(), e.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST GET other tenant: %d %s", code, body)
	}
	if code, _ := e.rest("PATCH", "/v1/sources/"+src.GetId(), e.keyB, `{"displayName":"x"}`); code != http.StatusNotFound {
		t.Fatalf("REST PATCH other tenant: %d", code)
	}
	if code, _ := e.rest("DELETE", "/v1/sources/"+src.GetId(), e.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST DELETE other tenant: %d", code)
	}

	// Nothing changed for A.
	after, err := e.sources().GetSource(as(e.keyA), &plugsv1.GetSourceRequest{Id: src.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(before, after) {
		t.Fatalf("A's source changed:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := keys.ListApiKeys(as(e.keyA), &plugsv1.ListApiKeysRequest{}); err != nil {
		t.Fatalf("A's key stopped working: %v", err)
	}
	e.assertNoSecretLeaked(secretA, "attacker_secret_0123456789")
}

func TestUnauthenticated(t *testing.T) {
	e := startEnv(t, "sqlite")
	id := "01936b8e-0000-7000-8000-000000000000"
	calls := map[string]func(ctx context.Context) error{
		"CreateSource": func(ctx context.Context) error {
			_, err := e.sources().CreateSource(ctx, newSource("x", secretA))
			return err
		},
		"GetSource": func(ctx context.Context) error {
			_, err := e.sources().GetSource(ctx, &plugsv1.GetSourceRequest{Id: id})
			return err
		},
		"ListSources": func(ctx context.Context) error {
			_, err := e.sources().ListSources(ctx, &plugsv1.ListSourcesRequest{})
			return err
		},
		"UpdateSource": func(ctx context.Context) error {
			_, err := e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{Source: &plugsv1.Source{Id: id, DisplayName: "x"}})
			return err
		},
		"DeleteSource": func(ctx context.Context) error {
			_, err := e.sources().DeleteSource(ctx, &plugsv1.DeleteSourceRequest{Id: id})
			return err
		},
		"RotateSecret": func(ctx context.Context) error {
			_, err := e.sources().RotateSecret(ctx, &plugsv1.RotateSecretRequest{Id: id, Secret: secretA})
			return err
		},
		"ListTemplates": func(ctx context.Context) error {
			_, err := plugsv1.NewTemplateServiceClient(e.conn).ListTemplates(ctx, &plugsv1.ListTemplatesRequest{})
			return err
		},
		"GetTemplate": func(ctx context.Context) error {
			_, err := plugsv1.NewTemplateServiceClient(e.conn).GetTemplate(ctx, &plugsv1.GetTemplateRequest{Id: "stripe"})
			return err
		},
		"CreateApiKey": func(ctx context.Context) error {
			_, err := plugsv1.NewApiKeyServiceClient(e.conn).CreateApiKey(ctx, &plugsv1.CreateApiKeyRequest{})
			return err
		},
		"ListApiKeys": func(ctx context.Context) error {
			_, err := plugsv1.NewApiKeyServiceClient(e.conn).ListApiKeys(ctx, &plugsv1.ListApiKeysRequest{})
			return err
		},
		"DeleteApiKey": func(ctx context.Context) error {
			_, err := plugsv1.NewApiKeyServiceClient(e.conn).DeleteApiKey(ctx, &plugsv1.DeleteApiKeyRequest{Id: id})
			return err
		},
		"StreamConfig": func(ctx context.Context) error {
			st, err := plugsv1.NewConfigDiscoveryServiceClient(e.conn).StreamConfig(ctx)
			if err != nil {
				return err
			}
			_ = st.Send(&plugsv1.StreamConfigRequest{Node: &plugsv1.Node{Id: "n"}})
			_, err = st.Recv()
			return err
		},
	}
	forged := "plg_" + strings.Repeat("a", 44)
	for name, call := range calls {
		for _, key := range []string{"", forged, "not-a-key", e.keyA[:len(e.keyA)-1] + "z"} {
			if key == e.keyA {
				continue
			}
			if err := call(as(key)); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s with key %q: %v, want UNAUTHENTICATED", name, key, err)
			}
		}
	}
	// A tenant's API key does not open the data planes' stream.
	if err := calls["StreamConfig"](as(e.keyA)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("StreamConfig with a tenant key: %v", err)
	}
	for _, p := range []string{"/v1/sources", "/v1/templates", "/v1/apiKeys"} {
		code, body := e.rest("GET", p, "", "")
		if code != http.StatusUnauthorized || !json.Valid(body) {
			t.Errorf("REST GET %s without key: %d %s", p, code, body)
		}
	}
}

func fieldViolations(t *testing.T, err error) map[string]string {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out[v.GetField()] = v.GetDescription()
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no field violations in %v", err)
	}
	return out
}

func TestValidationErrorsCarryFieldViolations(t *testing.T) {
	e := startEnv(t, "sqlite")
	ctx := as(e.keyA)
	cases := []struct {
		name  string
		req   *plugsv1.CreateSourceRequest
		field string
	}{
		{"unknown template", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "nope", Secret: secretA}}, "source.template_id"},
		{"secret too short", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "github", Secret: "short"}}, "source.secret"},
		{"empty filter entry", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			EventFilter: &plugsv1.EventFilter{EventTypes: []string{"invoice.paid", " "}}}}, "source.event_filter.event_types[1]"},
		{"bad JSONPath", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			FieldMappings: &plugsv1.FieldMappings{CustomerId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.data[?(@.x =="}}}}}, "source.field_mappings.customer_id.json_path"},
		{"bad filter expression", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			EventFilter: &plugsv1.EventFilter{Expression: "$[?(@.livemode =="}}}, "source.event_filter.expression"},
		{"missing name", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{TemplateId: "stripe", Secret: secretA}}, "source.display_name"},
		{"no secret", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe"}}, "source.secret"},
		{"basic auth secret without a colon", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "postmark",
			Secret: "postmark-credentials-without-colon"}}, "source.secret"},
		{"dedup window", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			DedupWindow: durationpb.New(time.Second)}}, "source.dedup_window"},
		{"rate limit", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			RateLimit: &plugsv1.RateLimit{RequestsPerSecond: -1}}}, "source.rate_limit.requests_per_second"},
		{"rate limit burst", &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "x", TemplateId: "stripe", Secret: secretA,
			RateLimit: &plugsv1.RateLimit{RequestsPerSecond: 5, Burst: -2}}}, "source.rate_limit.burst"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.sources().CreateSource(ctx, c.req)
			v := fieldViolations(t, err)
			if _, ok := v[c.field]; !ok {
				t.Fatalf("violations %v lack %s", v, c.field)
			}
		})
	}
	_, err := e.sources().GetSource(ctx, &plugsv1.GetSourceRequest{Id: "not-a-uuid"})
	if _, ok := fieldViolations(t, err)["id"]; !ok {
		t.Fatal("bad UUID lacks the id violation")
	}
	_, err = e.sources().ListSources(ctx, &plugsv1.ListSourcesRequest{PageToken: "garbage!"})
	if _, ok := fieldViolations(t, err)["page_token"]; !ok {
		t.Fatal("bad page token lacks its violation")
	}
	// Basic credentials are checked at rotation too.
	basic, err := e.sources().CreateSource(ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "postmark", TemplateId: "postmark", Secret: "postmark:correct-horse-battery"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.sources().RotateSecret(ctx, &plugsv1.RotateSecretRequest{Id: basic.GetId(), Secret: "postmark-correct-horse-battery"})
	if _, ok := fieldViolations(t, err)["secret"]; !ok {
		t.Fatal("Basic credentials without a colon accepted at rotation")
	}
	src, err := e.sources().CreateSource(ctx, newSource("ok", secretA))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{
		Source: &plugsv1.Source{Id: src.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"webhook_url"}},
	})
	if _, ok := fieldViolations(t, err)["update_mask"]; !ok {
		t.Fatal("output-only path accepted")
	}

	// REST errors are JSON with the same details.
	code, body := e.rest("POST", "/v1/sources", e.keyA, `{"displayName":"x","templateId":"stripe","secret":"short"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "google.rpc.BadRequest") || !strings.Contains(string(body), "source.secret") {
		t.Fatalf("REST validation: %d %s", code, body)
	}
	code, body = e.rest("GET", "/v1/sources/not-a-uuid", e.keyA, "")
	if code != http.StatusBadRequest || !json.Valid(body) {
		t.Fatalf("REST bad UUID: %d %s", code, body)
	}
	code, body = e.rest("POST", "/v1/sources", e.keyA, `{not json`)
	if code != http.StatusBadRequest || !json.Valid(body) {
		t.Fatalf("REST bad JSON: %d %s", code, body)
	}
	code, _ = e.rest("POST", "/v1/sources", e.keyA, `{"displayName":"`+strings.Repeat("x", 2<<20)+`"}`)
	if code < 400 {
		t.Fatalf("REST oversized body accepted: %d", code)
	}
}

func TestSourceLifecycleAndSecretsNeverReturned(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testSourceLifecycle(t, d) })
	}
}

func testSourceLifecycle(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	ctx := as(e.keyA)
	src, err := e.sources().CreateSource(ctx, newSource("Stripe prod", secretA))
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://ingest.example.com/v1/ingest/webhook/" + src.GetId(); src.GetWebhookUrl() != want {
		t.Fatalf("webhook_url %q, want %q", src.GetWebhookUrl(), want)
	}
	if len(src.GetSecrets()) != 1 || !strings.HasPrefix(src.GetSecrets()[0].GetFingerprint(), "sha256:") || src.GetSecret() != "" {
		t.Fatalf("secrets %v secret %q", src.GetSecrets(), src.GetSecret())
	}
	if src.GetSignatureScheme().GetHeader() != "Stripe-Signature" || src.GetDedupWindow().AsDuration() != 72*time.Hour || src.GetMaxBodyBytes() != 1<<20 {
		t.Fatalf("template defaults not applied: %v", src)
	}
	// A nested update path changes one field of the scheme only.
	up, err := e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{
		Source: &plugsv1.Source{Id: src.GetId(), Status: plugsv1.Source_STATUS_DISABLED,
			SignatureScheme: &plugsv1.SignatureScheme{Tolerance: durationpb.New(10 * time.Minute)}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status", "signature_scheme.tolerance"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.GetStatus() != plugsv1.Source_STATUS_DISABLED || up.GetSignatureScheme().GetTolerance().AsDuration() != 10*time.Minute ||
		up.GetSignatureScheme().GetHeader() != "Stripe-Signature" || up.GetRevision() <= src.GetRevision() {
		t.Fatalf("update: %v", up)
	}
	// Rotation keeps the old secret valid until the TTL.
	const secretA2 = "whsec_tenantA_rotated_secret_22"
	rot, err := e.sources().RotateSecret(ctx, &plugsv1.RotateSecretRequest{Id: src.GetId(), Secret: secretA2, PreviousSecretTtl: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.GetSecrets()) != 2 || rot.GetSecrets()[0].GetExpireTime() != nil || rot.GetSecrets()[1].GetExpireTime() == nil {
		t.Fatalf("after rotation: %v", rot.GetSecrets())
	}
	if exp := rot.GetSecrets()[1].GetExpireTime().AsTime(); time.Until(exp) > time.Hour || time.Until(exp) < 50*time.Minute {
		t.Fatalf("old secret expires at %v", exp)
	}
	// Pagination walks every source once, in creation order.
	ids := []string{src.GetId()}
	for i := range 4 {
		s, err := e.sources().CreateSource(ctx, newSource("more "+string(rune('a'+i)), secretA))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.GetId())
	}
	var got []string
	tok := ""
	for {
		page, err := e.sources().ListSources(ctx, &plugsv1.ListSourcesRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.GetSources() {
			got = append(got, s.GetId())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("paged %v, want %v", got, ids)
	}
	// REST walk-through of the README.
	code, body := e.rest("POST", "/v1/sources", e.keyA, `{"displayName":"GitHub","templateId":"github","secret":"`+secretA+`"}`)
	if code != http.StatusOK {
		t.Fatalf("REST create: %d %s", code, body)
	}
	var created struct {
		ID         string `json:"id"`
		WebhookURL string `json:"webhookUrl"`
	}
	_ = json.Unmarshal(body, &created)
	if !strings.HasSuffix(created.WebhookURL, "/v1/ingest/webhook/"+created.ID) {
		t.Fatalf("REST webhookUrl %q", created.WebhookURL)
	}
	if code, body := e.rest("PATCH", "/v1/sources/"+created.ID, e.keyA, `{"eventFilter":{"eventTypes":["push","pull_request.*"]}}`); code != http.StatusOK ||
		!strings.Contains(string(body), "pull_request.*") {
		t.Fatalf("REST patch: %d %s", code, body)
	}
	if code, body := e.rest("POST", "/v1/sources/"+created.ID+":rotateSecret", e.keyA, `{"secret":"`+secretA2+`","previousSecretTtl":"0s"}`); code != http.StatusOK {
		t.Fatalf("REST rotate: %d %s", code, body)
	}
	if code, body := e.rest("GET", "/v1/templates?page_size=1000", e.keyA, ""); code != http.StatusOK || !strings.Contains(string(body), `"stripe"`) {
		t.Fatalf("REST templates: %d %s", code, body)
	}
	// Filters travel as query parameters.
	if code, body := e.rest("GET", "/v1/templates?category=payments&search=STRIPE", e.keyA, ""); code != http.StatusOK ||
		!strings.Contains(string(body), `"id":"stripe"`) || strings.Contains(string(body), `"id":"github"`) {
		t.Fatalf("REST templates by category and search: %d %s", code, body)
	}
	if code, body := e.rest("GET", "/v1/templates?category=nope", e.keyA, ""); code != http.StatusBadRequest || !strings.Contains(string(body), "category") {
		t.Fatalf("REST templates with an unknown category: %d %s", code, body)
	}
	if code, _ := e.rest("GET", "/v1/templates/stripe", e.keyA, ""); code != http.StatusOK {
		t.Fatalf("REST template: %d", code)
	}
	if code, _ := e.rest("DELETE", "/v1/sources/"+created.ID, e.keyA, ""); code != http.StatusOK {
		t.Fatalf("REST delete: %d", code)
	}
	if code, _ := e.rest("GET", "/v1/sources/"+created.ID, e.keyA, ""); code != http.StatusNotFound {
		t.Fatalf("deleted source still there: %d", code)
	}
	e.assertNoSecretLeaked(secretA, secretA2)
}

// assertNoSecretLeaked scans every response and the server's logs.
func (e *env) assertNoSecretLeaked(plaintexts ...string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		e.t.Fatal("no responses recorded")
	}
	logs := e.logs.String()
	for _, p := range plaintexts {
		for _, b := range e.seen {
			if bytes.Contains(b, []byte(p)) {
				e.t.Fatalf("a response contains a secret: %s", b)
			}
		}
		if strings.Contains(logs, p) {
			e.t.Fatalf("the logs contain a secret")
		}
	}
}

func TestConfigStreamDeliversSnapshots(t *testing.T) {
	e := startEnv(t, "sqlite")
	src, err := e.sources().CreateSource(as(e.keyA), newSource("s", secretA))
	if err != nil {
		t.Fatal(err)
	}
	st, resp := e.firstSnapshot(t, src.GetRevision())
	if !resp.GetFull() || len(resp.GetSources()) != 1 || resp.GetSources()[0].GetId() != src.GetId() {
		t.Fatalf("snapshot %v", resp)
	}
	sc := resp.GetSources()[0]
	if len(sc.GetSecrets()) != 1 || string(sc.GetSecrets()[0].GetValue()) != secretA {
		t.Fatal("the snapshot must carry the decrypted secret")
	}
	if sc.GetSignatureScheme().GetHeader() != "Stripe-Signature" || sc.GetTenantId() == "" {
		t.Fatalf("scheme not resolved: %v", sc.GetSignatureScheme())
	}
	_ = st.Send(&plugsv1.StreamConfigRequest{VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})

	// A change is pushed; a NACKed version is not resent until the
	// configuration moves again.
	_, err = e.sources().UpdateSource(as(e.keyA), &plugsv1.UpdateSourceRequest{
		Source: &plugsv1.Source{Id: src.GetId(), DisplayName: "renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := st.Recv()
	if err != nil || resp2.GetVersionInfo() == resp.GetVersionInfo() {
		t.Fatalf("no push after change: %v %v", resp2, err)
	}
	_ = st.Send(&plugsv1.StreamConfigRequest{VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp2.GetNonce(),
		ErrorDetail: &plugsv1.ConfigError{Message: "rejected for the test"}})
	got := make(chan *plugsv1.StreamConfigResponse, 1)
	go func() {
		r, err := st.Recv()
		if err == nil {
			got <- r
		}
	}()
	select {
	case r := <-got:
		t.Fatalf("rejected version resent: %v", r.GetVersionInfo())
	case <-time.After(300 * time.Millisecond):
	}
	_, err = e.sources().DeleteSource(as(e.keyA), &plugsv1.DeleteSourceRequest{Id: src.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if len(r.GetSources()) != 0 {
			t.Fatalf("deleted source still in snapshot: %v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no push after delete")
	}
}

func TestPreviewMapping(t *testing.T) {
	e := startEnv(t, "sqlite")
	src, err := e.sources().CreateSource(as(e.keyA), newSource("stripe", secretA))
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/sources/" + src.GetId() + ":previewMapping"

	// The source's own (template) mappings.
	code, body := e.rest("POST", path, e.keyA, `{"body": "{\"id\":\"evt_9\",\"type\":\"invoice.paid\",\"created\":1700000000,\"data\":{\"object\":{\"customer\":\"cus_9\"}}}"}`)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var got struct {
		Event struct {
			EventID, EventType, CustomerID, Quantity, EventTime string
		}
		FieldErrors []struct {
			Field    string
			Required bool
		}
		Filtered   bool
		ParseError string
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Event.EventID != "evt_9" || got.Event.CustomerID != "cus_9" || got.Event.Quantity != "1" || got.Event.EventTime != "2023-11-14T22:13:20Z" {
		t.Fatalf("preview %s", body)
	}

	// A draft mapping reading the quantity from a header, and a body that
	// lacks the required id.
	resp, err := e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{
		Id:      src.GetId(),
		Body:    `{"type":"invoice.paid"}`,
		Headers: map[string]string{"x-units": "12.5"},
		FieldMappings: &plugsv1.FieldMappings{
			EventId:   &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.id"}, Required: true},
			EventType: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.type"}},
			Quantity:  &plugsv1.ValueRef{From: &plugsv1.ValueRef_Header{Header: "X-Units"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetEvent() != nil || len(resp.GetFieldErrors()) != 1 || resp.GetFieldErrors()[0].GetField() != "event_id" || !resp.GetFieldErrors()[0].GetRequired() {
		t.Fatalf("draft preview %v", resp)
	}

	// A filter that drops the event, and a body that does not parse.
	resp, err = e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{
		Id: src.GetId(), Body: `{"id":"e","type":"charge.refunded"}`,
		EventFilter: &plugsv1.EventFilter{EventTypes: []string{"invoice.*"}},
	})
	if err != nil || !resp.GetFiltered() {
		t.Fatalf("filtered preview %v %v", resp, err)
	}
	resp, err = e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{Id: src.GetId(), Body: `{"id":`})
	if err != nil || resp.GetParseError() == "" || resp.GetEvent() != nil {
		t.Fatalf("unparsable preview %v %v", resp, err)
	}

	// A draft that does not compile is a field violation.
	_, err = e.sources().PreviewMapping(as(e.keyA), &plugsv1.PreviewMappingRequest{
		Id: src.GetId(), Body: `{}`,
		FieldMappings: &plugsv1.FieldMappings{EventId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$[?(@.x =="}}},
	})
	if v := fieldViolations(t, err); v["field_mappings.event_id.json_path"] == "" {
		t.Fatalf("violations %v", v)
	}
}
