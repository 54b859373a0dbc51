package receipts_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

func gitlabSource(t *testing.T) *snapshot.Source {
	t.Helper()
	tpl, _ := templates.MustBuiltin().Get("gitlab")
	src, err := snapshot.Compile(&plugsv1.SourceConfig{
		Id: "0192d1a0-0000-7000-8000-000000000001", TenantId: "0192d1a0-0000-7000-8000-0000000000aa",
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte("gitlab-token-0123456789")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// A receipt never holds a credential: Authorization, cookies, a token
// scheme's token header and credential query parameters are redacted;
// signature headers are kept.
func TestBuildRedactsCredentials(t *testing.T) {
	src := gitlabSource(t)
	h := http.Header{
		"Authorization":   {"Bearer plg_secret"},
		"Cookie":          {"session=abc"},
		"X-Gitlab-Token":  {"gitlab-token-0123456789"},
		"X-Gitlab-Event":  {"Push Hook"},
		"Idempotency-Key": {"k-1"},
	}
	res := &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseSignatureInvalid, Source: src, Body: []byte(`{"a":1}`)}
	rc := receipts.Build(receipts.Request{Method: "GET", RequestURI: "/v1/ingest/webhook/x?hub.verify_token=tok&hub.challenge=1",
		Header: h, ReceiveTime: time.Now()}, res, 401, time.Millisecond, "dp-1")
	raw, _ := proto.Marshal(rc)
	for _, secret := range []string{"plg_secret", "session=abc", "gitlab-token-0123456789", "verify_token=tok"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("receipt holds %q", secret)
		}
	}
	if !strings.Contains(string(raw), "Push Hook") || rc.GetCause() != "signature_invalid" || rc.GetOutcome() != plugsv1.Receipt_OUTCOME_REJECTED ||
		rc.GetStatusCode() != 401 || string(rc.GetBody()) != `{"a":1}` || rc.GetDataPlane() != "dp-1" {
		t.Fatalf("receipt %v", rc)
	}
	if receipts.Build(receipts.Request{}, &pipeline.Result{Outcome: pipeline.UnknownSource}, 404, 0, "") != nil {
		t.Fatal("a receipt for an unknown source")
	}
}

func TestRecorderPublishes(t *testing.T) {
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	r := receipts.New(conn.JS, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	src := gitlabSource(t)
	for range 20 {
		r.Record(receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
			&pipeline.Result{Outcome: pipeline.Accepted, Source: src}, 200, 0, "dp"))
	}
	cancel()
	<-r.Done()
	s, _ := conn.JS.Stream(context.Background(), backbone.ReceiptsStream)
	info, err := s.Info(context.Background())
	if err != nil || info.State.Msgs != 20 || r.Published() != 20 || r.Dropped() != 0 {
		t.Fatalf("stored %d, published %d, dropped %d (%v)", info.State.Msgs, r.Published(), r.Dropped(), err)
	}
}

// A full buffer drops receipts instead of blocking the request.
func TestFullBufferNeverBlocks(t *testing.T) {
	r := receipts.New(nil, 2, nil) // never run: nothing drains the buffer
	src := gitlabSource(t)
	done := make(chan struct{})
	go func() {
		for range 100 {
			r.Record(receipts.Build(receipts.Request{ReceiveTime: time.Now()}, &pipeline.Result{Outcome: pipeline.Accepted, Source: src}, 200, 0, ""))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	if r.Dropped() != 98 {
		t.Fatalf("dropped %d, want 98", r.Dropped())
	}
}
