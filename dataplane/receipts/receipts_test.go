package receipts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
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

func backboneConn(t *testing.T) *backbone.Conn {
	t.Helper()
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
	return conn
}

// stored reads a stream: how many messages it holds and the receipts in
// them, batched or not.
func stored(t *testing.T, conn *backbone.Conn, stream string) (msgs int, rcs []*plugsv1.Receipt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := conn.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		msgs++
		if m.Header.Get(backbone.BatchHeader) == "" {
			rc := &plugsv1.Receipt{}
			if err := proto.Unmarshal(m.Data, rc); err != nil {
				t.Fatal(err)
			}
			rcs = append(rcs, rc)
			continue
		}
		b := &plugsv1.ReceiptBatch{}
		if err := proto.Unmarshal(m.Data, b); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(backbone.BatchHeader) != strconv.Itoa(len(b.GetReceipts())) {
			t.Fatalf("batch header %q, %d receipts", m.Header.Get(backbone.BatchHeader), len(b.GetReceipts()))
		}
		for _, rc := range b.GetReceipts() {
			if backbone.ReceiptSubject(rc.GetTenantId(), rc.GetSourceId()) != m.Subject &&
				backbone.UnverifiedReceiptSubject(rc.GetTenantId(), rc.GetSourceId()) != m.Subject {
				t.Fatalf("receipt of %s in a batch on %s", rc.GetSourceId(), m.Subject)
			}
		}
		rcs = append(rcs, b.GetReceipts()...)
	}
	return msgs, rcs
}

// Receipts waiting together are published in fewer messages than
// receipts, each receipt once, the verified and the unverified ones each
// to their own stream.
func TestRecorderPublishes(t *testing.T) {
	conn := backboneConn(t)
	r := receipts.New(conn.JS, 0, nil)
	src := gitlabSource(t)
	for range 20 {
		r.Record(receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
			&pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true}, 200, 0, "dp"))
	}
	for range 3 {
		r.Record(receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
			&pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseSignatureInvalid, Source: src}, 401, 0, "dp"))
	}
	// Started after the burst, as a recorder behind a busy backbone is.
	ctx, cancel := context.WithCancel(context.Background())
	go r.Run(ctx)
	cancel()
	<-r.Done()
	for stream, want := range map[string]int{backbone.ReceiptsStream: 20, backbone.UnverifiedReceiptsStream: 3} {
		msgs, rcs := stored(t, conn, stream)
		ids := map[string]bool{}
		for _, rc := range rcs {
			ids[rc.GetId()] = true
			if rc.GetUnverified() != (stream == backbone.UnverifiedReceiptsStream) {
				t.Errorf("receipt unverified=%v in %s", rc.GetUnverified(), stream)
			}
		}
		if len(rcs) != want || len(ids) != want || msgs >= want {
			t.Fatalf("%s: %d receipts (%d distinct) in %d messages, want %d in fewer", stream, len(rcs), len(ids), msgs, want)
		}
	}
	if r.Published() != 23 || r.Dropped() != 0 {
		t.Fatalf("published %d, dropped %d", r.Published(), r.Dropped())
	}
	// Once idle, a lone receipt is published at once, in the form of
	// messages from before batches.
	ctx, cancel = context.WithCancel(context.Background())
	r2 := receipts.New(conn.JS, 0, nil)
	go r2.Run(ctx)
	defer func() { cancel(); <-r2.Done() }()
	r2.Record(receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
		&pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true}, 200, 0, "dp"))
	deadline := time.Now().Add(10 * time.Second)
	for r2.Published() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("a lone receipt was not published")
		}
		time.Sleep(time.Millisecond)
	}
	if msgs, rcs := stored(t, conn, backbone.ReceiptsStream); len(rcs) != 21 {
		t.Fatalf("%d receipts in %d messages after a lone one, want 21", len(rcs), msgs)
	}
}

// A batch published again, as after a lost confirmation, is stored once.
func TestBatchRetriedIsStoredOnce(t *testing.T) {
	conn := backboneConn(t)
	src := gitlabSource(t)
	var rcs []*plugsv1.Receipt
	for range 5 {
		rcs = append(rcs, receipts.Build(receipts.Request{Method: "POST", ReceiveTime: time.Now()},
			&pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true}, 200, 0, "dp"))
	}
	for range 3 {
		if err := receipts.PublishBatch(context.Background(), conn.JS, rcs); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, got := stored(t, conn, backbone.ReceiptsStream); msgs != 1 || len(got) != 5 {
		t.Fatalf("%d receipts in %d messages, want 5 in 1", len(got), msgs)
	}
}

// A full buffer drops receipts instead of blocking the request.
func TestFullBufferNeverBlocks(t *testing.T) {
	r := receipts.New(nil, 2, nil) // never run: nothing drains the buffer
	src := gitlabSource(t)
	done := make(chan struct{})
	go func() {
		for range 100 {
			r.Record(receipts.Build(receipts.Request{ReceiveTime: time.Now()}, &pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true}, 200, 0, ""))
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

// Receipts of unverified requests have a buffer of their own: a flood of
// them fills it, and the receipts of verified webhooks still find room.
func TestUnverifiedFloodLeavesRoomForVerified(t *testing.T) {
	r := receipts.New(nil, 2, nil) // never run: nothing drains the buffers
	src := gitlabSource(t)
	forged := &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseSignatureInvalid, Source: src}
	for range 100 {
		r.Record(receipts.Build(receipts.Request{ReceiveTime: time.Now()}, forged, 401, 0, ""))
	}
	if r.Dropped() != 98 {
		t.Fatalf("dropped %d unverified receipts, want 98", r.Dropped())
	}
	accepted := &pipeline.Result{Outcome: pipeline.Accepted, Source: src, Verified: true}
	for i := range 2 {
		if !r.Record(receipts.Build(receipts.Request{ReceiveTime: time.Now()}, accepted, 200, 0, "")) {
			t.Fatalf("receipt %d of an accepted webhook dropped after a flood of forged requests", i+1)
		}
	}
	if r.Record(receipts.Build(receipts.Request{ReceiveTime: time.Now()}, accepted, 200, 0, "")) {
		t.Fatal("a third receipt found room in a buffer of 2")
	}
}

// A receipt keeps a verified request's body whole, but only the first
// MaxUnverifiedBody bytes of an unverified one, with the whole body's
// length and SHA-256, and says it is truncated. A body too large to be
// read has its declared length and no hash.
func TestBuildKeepsStartOfUnverifiedBody(t *testing.T) {
	src := gitlabSource(t)
	big := []byte(strings.Repeat("x", 1<<20))
	sum := sha256.Sum256(big)
	for _, c := range []struct {
		name      string
		res       *pipeline.Result
		declared  int64
		keep      int
		truncated bool
		size      int64
		sha       string
	}{
		{"forged", &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseSignatureInvalid, Body: big},
			-1, receipts.MaxUnverifiedBody, true, 1 << 20, hex.EncodeToString(sum[:])},
		{"verified but unmappable", &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseMappingFailed, Verified: true, Body: big[:100<<10]},
			-1, 100 << 10, false, 100 << 10, ""},
		{"small forged", &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseSignatureInvalid, Body: big[:10]},
			-1, 10, false, 10, ""},
		{"too large", &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CausePayloadTooLarge, Body: big[:64<<10]},
			5 << 20, receipts.MaxUnverifiedBody, true, 5 << 20, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.res.Source = src
			rc := receipts.Build(receipts.Request{ReceiveTime: time.Now(), ContentLength: c.declared}, c.res, 401, 0, "")
			if len(rc.GetBody()) != c.keep || rc.GetBodyTruncated() != c.truncated || rc.GetBodySize() != c.size ||
				rc.GetBodySha256() != c.sha || rc.GetUnverified() == c.res.Verified {
				t.Fatalf("kept %d bytes, truncated %v, size %d, sha256 %q, unverified %v",
					len(rc.GetBody()), rc.GetBodyTruncated(), rc.GetBodySize(), rc.GetBodySha256(), rc.GetUnverified())
			}
			if c.truncated && cap(rc.GetBody()) > c.keep {
				t.Fatalf("the kept %d bytes hold on to %d", c.keep, cap(rc.GetBody()))
			}
		})
	}
}

// Strings that are not UTF-8 (a sender's header, a detail quoting one)
// are replaced, so the receipt can be encoded and published.
func TestBuildMakesStringsUTF8(t *testing.T) {
	src := gitlabSource(t)
	res := &pipeline.Result{Outcome: pipeline.Rejected, Cause: pipeline.CauseMappingFailed, Verified: true, Source: src,
		Detail: "customer \xff", Field: "customer_id", Event: &plugsv1.UsageEvent{EventType: "push\xfe", EventId: "evt\xc3"}}
	h := http.Header{"X-Customer": {"ok", "bad\xffvalue"}, "X-Bad\xff": {"v"}}
	rc := receipts.Build(receipts.Request{Method: "POST", RequestURI: "/x?q=\xff", RemoteAddr: "1.2.3.4:5", Header: h, ReceiveTime: time.Now()},
		res, 422, 0, "dp")
	if _, err := proto.Marshal(rc); err != nil {
		t.Fatalf("receipt does not encode: %v", err)
	}
	var values []string
	for _, hd := range rc.GetHeaders() {
		values = append(values, hd.GetName()+"="+strings.Join(hd.GetValues(), ","))
	}
	want := []string{"X-Bad\uFFFD=v", "X-Customer=ok,bad\uFFFDvalue"}
	if !slices.Equal(values, want) || rc.GetDetail() != "customer \uFFFD" || rc.GetEventType() != "push\uFFFD" ||
		rc.GetProviderEventId() != "evt\uFFFD" {
		t.Fatalf("headers %q, detail %q, event type %q, event id %q", values, rc.GetDetail(), rc.GetEventType(), rc.GetProviderEventId())
	}
	if h.Get("X-Customer") != "ok" || h["X-Customer"][1] != "bad\xffvalue" {
		t.Fatal("the request's headers were changed")
	}
}

// A secret a handshake delivers (Asana's X-Hook-Secret) and a token carried
// in the query string are redacted like any credential.
func TestBuildRedactsHandshakeSecrets(t *testing.T) {
	const hookSecret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
	asana, _ := templates.MustBuiltin().Get("asana")
	inQuery := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_TOKEN, TokenQueryParam: "key"}
	for name, c := range map[string]struct {
		scheme *plugsv1.SignatureScheme
		uri    string
		header http.Header
	}{
		"asana":       {asana.GetSignatureScheme(), "/v1/ingest/webhook/x", http.Header{"X-Hook-Secret": {hookSecret}}},
		"query token": {inQuery, "/v1/ingest/webhook/x?key=" + hookSecret + "&other=1", http.Header{}},
	} {
		t.Run(name, func(t *testing.T) {
			src, err := snapshot.Compile(&plugsv1.SourceConfig{Id: "0192d1a0-0000-7000-8000-000000000001", TenantId: "t", SignatureScheme: c.scheme})
			if err != nil {
				t.Fatal(err)
			}
			res := &pipeline.Result{Outcome: pipeline.Handshake, Source: src}
			rc := receipts.Build(receipts.Request{Method: "POST", RequestURI: c.uri, Header: c.header, ReceiveTime: time.Now()}, res, 200, time.Millisecond, "dp-1")
			raw, _ := proto.Marshal(rc)
			if strings.Contains(string(raw), hookSecret) {
				t.Fatalf("receipt holds the secret: %v", rc)
			}
		})
	}
}
