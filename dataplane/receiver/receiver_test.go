package receiver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// recorder is a sink that keeps what it is given, or fails when told to.
type recorder struct {
	mu     sync.Mutex
	events []*plugsv1.UsageEvent
	fail   bool
}

func (r *recorder) Enqueue(_ context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return false, errors.New("backbone down for the test")
	}
	r.events = append(r.events, ev)
	return false, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

const (
	stripeID   = "0192d1a0-0000-7000-8000-000000000001"
	githubID   = "0192d1a0-0000-7000-8000-000000000002"
	nosecretID = "0192d1a0-0000-7000-8000-000000000003"
	disabledID = "0192d1a0-0000-7000-8000-000000000004"
	metaID     = "0192d1a0-0000-7000-8000-000000000005"
	secret     = "whsec_test_secret_0123456789"
)

func sourceFrom(t *testing.T, id, template string, secrets ...string) *plugsv1.SourceConfig {
	t.Helper()
	tpl, err := templates.MustBuiltin().Get(template)
	if err != nil {
		t.Fatal(err)
	}
	sc := &plugsv1.SourceConfig{
		Id: id, TenantId: "tenant-1", TemplateId: template, MetricId: "api_calls",
		Status: plugsv1.Source_STATUS_ACTIVE, SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		MaxBodyBytes: 4096,
	}
	for i, s := range secrets {
		sc.Secrets = append(sc.Secrets, &plugsv1.SigningSecret{Id: fmt.Sprint("s", i), Value: []byte(s)})
	}
	return sc
}

type fixture struct {
	url  string
	sink *recorder
	srv  *server.Server
}

func start(t *testing.T, allowUnverified bool, now time.Time) *fixture {
	t.Helper()
	return startWith(t, allowUnverified, now, nil)
}

// receiptLog keeps the receipts a receiver records.
type receiptLog struct {
	mu  sync.Mutex
	all []*plugsv1.Receipt
}

func (l *receiptLog) Record(r *plugsv1.Receipt) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, r)
	return true
}

func startWith(t *testing.T, allowUnverified bool, now time.Time, rec interface{ Record(*plugsv1.Receipt) bool }) *fixture {
	t.Helper()
	stripe := sourceFrom(t, stripeID, "stripe", secret)
	stripe.EventFilter = &plugsv1.EventFilter{EventTypes: []string{"invoice.*", "customer.subscription.*"}}
	disabled := sourceFrom(t, disabledID, "stripe", secret)
	disabled.Status = plugsv1.Source_STATUS_DISABLED
	meta := sourceFrom(t, metaID, "meta", secret)
	meta.SignatureScheme.VerifyToken = "let-me-in"
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{
		stripe, sourceFrom(t, githubID, "github", secret), sourceFrom(t, nosecretID, "stripe"), disabled, meta,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	sink := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := pipeline.New(store, sink, pipeline.Options{Log: log, AllowUnverified: allowUnverified})
	rc := receiver.New(p, receiver.Options{Log: log, Now: func() time.Time { return now }, Receipts: rec, NodeID: "dp-test"})
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Store: store, Ingest: rc, Log: log, ReadTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return &fixture{url: "http://" + srv.Addr, sink: sink, srv: srv}
}

// serve runs a receiver over sources, with the pipeline and receiver
// options given, until the test ends. Events go to sink, or to a recorder
// (the fixture's) when it is nil; logs are discarded.
func serve(t *testing.T, sources []*plugsv1.SourceConfig, sink pipeline.Sink, po pipeline.Options, ro receiver.Options) *fixture {
	t.Helper()
	cfg, err := snapshot.Build(nil, "1", true, sources, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	rec, _ := sink.(*recorder)
	if sink == nil {
		rec = &recorder{}
		sink = rec
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	po.Log, ro.Log = log, log
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Store: store, Ingest: receiver.New(pipeline.New(store, sink, po), ro), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return &fixture{url: "http://" + srv.Addr, sink: rec, srv: srv}
}

func (f *fixture) post(t *testing.T, id string, h http.Header, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+"/v1/ingest/webhook/"+id, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("answer is not JSON: %q", b)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func stripeSigned(t *testing.T, body string, at time.Time, key string) http.Header {
	t.Helper()
	tpl, _ := templates.MustBuiltin().Get("stripe")
	s, err := verify.Sign(tpl.GetSignatureScheme(), key, verify.Message{Method: "POST", Body: []byte(body)}, at)
	if err != nil {
		t.Fatal(err)
	}
	return s.Header
}

const invoice = `{"id":"evt_1","type":"invoice.paid","created":1686089970,"data":{"object":{"customer":"cus_1"}}}`

func TestIngestContract(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f := start(t, false, now)
	valid := stripeSigned(t, invoice, now, secret)

	cases := []struct {
		name   string
		id     string
		header http.Header
		body   string
		status int
		cause  string
	}{
		{"unknown source", "0192d1a0-0000-7000-8000-0000000000ff", valid, invoice, 404, ""},
		{"malformed id", "not-a-uuid", valid, invoice, 404, ""},
		{"too large", stripeID, stripeSigned(t, strings.Repeat("x", 5000), now, secret), strings.Repeat("x", 5000), 413, "payload_too_large"},
		{"secret missing", nosecretID, valid, invoice, 401, "secret_missing"},
		{"signature missing", stripeID, http.Header{}, invoice, 401, "signature_missing"},
		{"signature malformed", stripeID, http.Header{"Stripe-Signature": {"t=1,v1=zz"}}, invoice, 401, "signature_malformed"},
		{"signature stale", stripeID, stripeSigned(t, invoice, now.Add(-10*time.Minute), secret), invoice, 401, "signature_stale"},
		{"wrong secret", stripeID, stripeSigned(t, invoice, now, "whsec_another_secret_000"), invoice, 401, "signature_invalid"},
		{"tampered body", stripeID, valid, strings.Replace(invoice, "cus_1", "cus_2", 1), 401, "signature_invalid"},
		{"disabled", disabledID, valid, invoice, 403, "source_disabled"},
		{"filtered type", stripeID, stripeSigned(t, `{"id":"evt_2","type":"charge.refunded"}`, now, secret), `{"id":"evt_2","type":"charge.refunded"}`, 200, ""},
		{"unparsable", stripeID, stripeSigned(t, `{"id":"evt_3",`, now, secret), `{"id":"evt_3",`, 400, "unparsable_payload"},
		{"mapping failed", stripeID, stripeSigned(t, `{"type":"invoice.paid"}`, now, secret), `{"type":"invoice.paid"}`, 422, "mapping_failed"},
		{"accepted", stripeID, valid, invoice, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.sink.count()
			status, body, _ := f.post(t, c.id, c.header, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, body)
			}
			if c.cause != "" && body["cause"] != c.cause {
				t.Fatalf("cause %v, want %s", body["cause"], c.cause)
			}
			if status == 200 && body["received"] != true {
				t.Fatalf("body %v", body)
			}
			stored := f.sink.count() - before
			if want := map[bool]int{true: 1, false: 0}[c.name == "accepted"]; stored != want {
				t.Fatalf("%d events stored, want %d", stored, want)
			}
		})
	}
	_, body, _ := f.post(t, stripeID, stripeSigned(t, `{"type":"invoice.paid"}`, now, secret), `{"type":"invoice.paid"}`)
	if body["field"] != "event_id" {
		t.Errorf("422 names the field: %v", body)
	}
	ev := f.sink.events[len(f.sink.events)-1]
	if ev.GetEventId() != "evt_1" || ev.GetCustomerId() != "cus_1" || ev.GetTenantId() != "tenant-1" || ev.GetMetricId() != "api_calls" || ev.GetId() == "" || ev.GetQuantity() != "1" {
		t.Errorf("event %v", ev)
	}
}

func TestHeadersMapForGitHub(t *testing.T) {
	now := time.Now()
	f := start(t, false, now)
	tpl, _ := templates.MustBuiltin().Get("github")
	body := `{"action":"opened","repository":{"owner":{"login":"octo"}}}`
	s, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: []byte(body)}, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	s.Header.Set("X-GitHub-Event", "issues")
	if status, out, _ := f.post(t, githubID, s.Header, body); status != 200 {
		t.Fatalf("%d %v", status, out)
	}
	ev := f.sink.events[0]
	if ev.GetEventId() != "72d3162e-cc78-11e3-81ab-4c9367dc0958" || ev.GetEventType() != "issues" || ev.GetCustomerId() != "octo" {
		t.Fatalf("event %v", ev)
	}
}

func TestBackboneUnavailable(t *testing.T) {
	now := time.Now()
	f := start(t, false, now)
	f.sink.fail = true
	status, body, h := f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice)
	if status != 503 || h.Get("Retry-After") == "" || body["cause"] != "backbone_unavailable" {
		t.Fatalf("%d %v %v", status, body, h)
	}
}

func TestVerificationBypassOnlyWhenAllowed(t *testing.T) {
	now := time.Now()
	h := http.Header{receiver.SkipVerificationHeader: {"true"}}
	if status, body, _ := start(t, false, now).post(t, stripeID, h, invoice); status != 401 {
		t.Fatalf("bypass honoured without being allowed: %d %v", status, body)
	}
	f := start(t, true, now)
	if status, body, _ := f.post(t, stripeID, h, invoice); status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	if !f.sink.events[0].GetUnverified() {
		t.Fatal("event not marked unverified")
	}
}

func TestMetaSubscriptionHandshake(t *testing.T) {
	f := start(t, false, time.Now())
	get := func(query string) (int, string) {
		resp, err := http.Get(f.url + "/v1/ingest/webhook/" + metaID + "?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("hub.mode=subscribe&hub.verify_token=let-me-in&hub.challenge=1158201444"); status != 200 || body != "1158201444" {
		t.Fatalf("%d %q", status, body)
	}
	if status, _ := get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"); status != 401 {
		t.Fatalf("wrong verify token answered %d", status)
	}
	if status, _ := get(""); status != 405 {
		t.Fatalf("GET without handshake answered %d", status)
	}
}

// A client that sends headers and then trickles (or stops sending) its body
// is cut off by the server's read timeout instead of holding the pod.
func TestSlowClientIsCutOff(t *testing.T) {
	f := start(t, false, time.Now())
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/ingest/webhook/%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":", stripeID)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("a truncated body answered %d", resp.StatusCode)
		}
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server held the connection for 10 s")
	}
}

// Before its first configuration a data plane cannot tell an unknown
// source from one it has not heard of yet: it answers 503, not 404.
func TestNotReadyAnswers503(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := pipeline.New(&snapshot.Store{}, &recorder{}, pipeline.Options{Log: log})
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Store: &snapshot.Store{}, Ingest: receiver.New(p, receiver.Options{Log: log}), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	f := &fixture{url: "http://" + srv.Addr}
	status, body, h := f.post(t, stripeID, http.Header{}, invoice)
	if status != 503 || h.Get("Retry-After") == "" || body["cause"] != "not_ready" {
		t.Fatalf("%d %v %v", status, body, h)
	}
}

// Every request naming a known source leaves a receipt with its outcome,
// cause and body; unknown sources leave none.
func TestReceipts(t *testing.T) {
	now := time.Now()
	log := &receiptLog{}
	f := startWith(t, false, now, log)
	f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice)
	f.post(t, stripeID, stripeSigned(t, invoice, now, "whsec_another_secret_000"), invoice)
	f.post(t, "0192d1a0-0000-7000-8000-0000000000ff", http.Header{}, invoice)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.all) != 2 {
		t.Fatalf("%d receipts, want 2", len(log.all))
	}
	ok, bad := log.all[0], log.all[1]
	if ok.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || ok.GetProviderEventId() != "evt_1" || ok.GetUsageEventId() == "" ||
		ok.GetStatusCode() != 200 || string(ok.GetBody()) != invoice || ok.GetDataPlane() != "dp-test" {
		t.Errorf("accepted receipt %v", ok)
	}
	if bad.GetOutcome() != plugsv1.Receipt_OUTCOME_REJECTED || bad.GetCause() != "signature_invalid" || bad.GetStatusCode() != 401 {
		t.Errorf("rejected receipt %v", bad)
	}
}

// Every answer for a known source names its receipt, whatever the outcome,
// so a sender can look it up; an unknown source's answer names none.
func TestAnswerNamesTheReceipt(t *testing.T) {
	now := time.Now()
	log := &receiptLog{}
	f := startWith(t, false, now, log)
	_, _, okHeader := f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice)
	_, _, badHeader := f.post(t, stripeID, stripeSigned(t, invoice, now, "whsec_another_secret_000"), invoice)
	code, _, unknownHeader := f.post(t, "0192d1a0-0000-7000-8000-0000000000ff", http.Header{}, invoice)
	if code != http.StatusNotFound || unknownHeader.Get(receiver.ReceiptIDHeader) != "" {
		t.Errorf("unknown source: %d, receipt %q", code, unknownHeader.Get(receiver.ReceiptIDHeader))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.all) != 2 {
		t.Fatalf("%d receipts, want 2", len(log.all))
	}
	for i, h := range []http.Header{okHeader, badHeader} {
		if got, want := h.Get(receiver.ReceiptIDHeader), log.all[i].GetId(); got == "" || got != want {
			t.Errorf("answer %d names receipt %q, the receipt recorded is %q", i, got, want)
		}
	}
	if log.all[0].GetId() == log.all[1].GetId() {
		t.Error("two requests share a receipt id")
	}
}

// An optional mapping with a bad value does not reject the webhook: the
// field is left empty and the receipt says so, without calling it
// required.
func TestBadOptionalValueIsAcceptedAndRecorded(t *testing.T) {
	now := time.Now()
	log := &receiptLog{}
	f := startWith(t, false, now, log)
	body := `{"id":"evt_9","type":"invoice.paid","created":"yesterday","data":{"object":{"customer":{"id":"cus_9"}}}}`
	status, out, _ := f.post(t, stripeID, stripeSigned(t, body, now, secret), body)
	if status != 200 || out["received"] != true {
		t.Fatalf("%d %v", status, out)
	}
	ev := f.sink.events[len(f.sink.events)-1]
	if ev.GetEventId() != "evt_9" || ev.GetCustomerId() != "" || ev.GetEventTime() != nil {
		t.Fatalf("event %v", ev)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	rc := log.all[len(log.all)-1]
	d := rc.GetDetail()
	if rc.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || rc.GetCause() != "" ||
		!strings.Contains(d, "customer_id: not a string or number") || !strings.Contains(d, `timestamp: "yesterday"`) ||
		strings.Contains(d, "required") {
		t.Fatalf("receipt outcome %v, cause %q, detail %q", rc.GetOutcome(), rc.GetCause(), d)
	}
}
