package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const (
	batchSourceID = "0192d1a0-0000-7000-8000-0000000000b1"
	batchSecret   = "gocardless-endpoint-secret"
)

// batchScheme is GoCardless's: HMAC-SHA256 of the body, hex, in
// Webhook-Signature.
var batchScheme = &plugsv1.SignatureScheme{
	Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_HEX,
	Header: "Webhook-Signature", SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}},
}

func ref(p string, required bool) *plugsv1.ValueRef {
	return &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: p}, Required: required}
}

// batchMappings read GoCardless-like bodies: {"events":[…],"meta":{…}}.
func batchMappings(maxItems int32) *plugsv1.FieldMappings {
	return &plugsv1.FieldMappings{
		Batch:      &plugsv1.Batch{ItemsPath: "$.events[*]", MaxItems: maxItems},
		EventId:    ref("$.id", false),
		EventType:  ref("$.action", true),
		CustomerId: ref("$.links.customer", true),
		Properties: map[string]*plugsv1.ValueRef{"webhook_id": ref("$$.meta.webhook_id", false)},
	}
}

func batchStore(t testing.TB, m *plugsv1.FieldMappings, f *plugsv1.EventFilter) *snapshot.Store {
	t.Helper()
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{{
		Id: batchSourceID, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: batchScheme, FieldMappings: m, EventFilter: f,
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte(batchSecret)}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	return store
}

// batchBody is a body of n events EV0…, confirmed, for customers CU0….
func batchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"EV%d","action":"confirmed","links":{"customer":"CU%d"}}`, i, i)
	}
	b.WriteString(`],"meta":{"webhook_id":"WB1"}}`)
	return []byte(b.String())
}

func batchRequest(t testing.TB, body []byte) *pipeline.Request {
	t.Helper()
	signed, err := verify.Sign(batchScheme, batchSecret, verify.Message{Body: body, ContentType: "application/json"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline.Request{SourceID: batchSourceID, Method: http.MethodPost, Header: signed.Header,
		Body: bytes.NewReader(body), ContentLength: int64(len(body)), ReceiveTime: time.Now()}
}

// memSink stores events by provider event id, once each, as the backbone
// does; fail, when set, refuses an event.
type memSink struct {
	mu     sync.Mutex
	stored map[string]*plugsv1.UsageEvent
	calls  int
	fail   func(ev *plugsv1.UsageEvent) bool
}

func (s *memSink) Enqueue(_ context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil && s.fail(ev) {
		return false, backbone.ErrUnavailable
	}
	if s.stored == nil {
		s.stored = map[string]*plugsv1.UsageEvent{}
	}
	if _, ok := s.stored[ev.GetEventId()]; ok {
		return true, nil
	}
	s.stored[ev.GetEventId()] = ev
	return false, nil
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

func quiet() pipeline.Options {
	return pipeline.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// itemOutcomes lists each item's outcome, with its cause when it has one.
func itemOutcomes(res *pipeline.Result) string {
	var out []string
	for _, it := range res.Items {
		s := string(it.Outcome)
		if it.Cause != pipeline.CauseNone {
			s += "/" + string(it.Cause)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// One request of five events stores five usage events, each with its own
// ids and the envelope's values; the provider's retry of the same request
// finds all five duplicates and stores nothing more.
func TestBatchStoresEachEvent(t *testing.T) {
	sink := &memSink{}
	p := pipeline.New(batchStore(t, batchMappings(0), nil), sink, quiet())
	body := batchBody(5)
	res := p.Handle(context.Background(), batchRequest(t, body))
	if res.Outcome != pipeline.Accepted || !res.Batch || len(res.Items) != 5 || res.Event != nil {
		t.Fatalf("got %s %s %q, %d items", res.Outcome, res.Cause, res.Detail, len(res.Items))
	}
	if got := itemOutcomes(res); got != "accepted accepted accepted accepted accepted" || res.Detail != "5 items: 5 accepted" {
		t.Fatalf("items %q, detail %q", got, res.Detail)
	}
	ids := map[string]bool{}
	for i, it := range res.Items {
		ev := sink.stored[fmt.Sprintf("EV%d", i)]
		if ev == nil || ev != it.Event || ev.GetCustomerId() != fmt.Sprintf("CU%d", i) || ev.GetProperties()["webhook_id"] != "WB1" ||
			ev.GetSourceId() != batchSourceID || ev.GetTenantId() != "t" || ids[ev.GetId()] || ev.GetId() == "" {
			t.Fatalf("item %d: stored %v", i, ev)
		}
		ids[ev.GetId()] = true
	}
	res = p.Handle(context.Background(), batchRequest(t, body))
	if res.Outcome != pipeline.Duplicate || itemOutcomes(res) != "duplicate duplicate duplicate duplicate duplicate" || sink.count() != 5 {
		t.Fatalf("retry: %s, items %q, stored %d", res.Outcome, itemOutcomes(res), sink.count())
	}
}

// When the store refuses some events, the request is answered 503 with
// every item's fate; the provider's retry stores the rest, the stored ones
// being duplicates: each event is stored once and none is lost.
func TestBatchPartialStoreFailure(t *testing.T) {
	var refused atomic.Int32
	sink := &memSink{fail: func(ev *plugsv1.UsageEvent) bool {
		// The third and seventh items, the first time they come.
		return (ev.GetEventId() == "EV2" || ev.GetEventId() == "EV6") && refused.Add(1) <= 2
	}}
	p := pipeline.New(batchStore(t, batchMappings(0), nil), sink, quiet())
	body := batchBody(10)
	res := p.Handle(context.Background(), batchRequest(t, body))
	if res.Outcome != pipeline.Rejected || res.Cause != pipeline.CauseBackboneUnavailable {
		t.Fatalf("got %s %s", res.Outcome, res.Cause)
	}
	if !strings.HasPrefix(res.Detail, "10 items: 8 accepted, 2 not stored; the provider's retry stores the rest (item 2: ") {
		t.Fatalf("detail %q", res.Detail)
	}
	for i, it := range res.Items {
		want := pipeline.Accepted
		if i == 2 || i == 6 {
			want = pipeline.Rejected
		}
		if it.Outcome != want || it.Index != i {
			t.Fatalf("item %d: %s %s", i, it.Outcome, it.Cause)
		}
	}
	if sink.count() != 8 {
		t.Fatalf("stored %d", sink.count())
	}
	res = p.Handle(context.Background(), batchRequest(t, body))
	if res.Outcome != pipeline.Accepted || res.Detail != "10 items: 2 accepted, 8 duplicate" {
		t.Fatalf("retry: %s %s %q", res.Outcome, res.Cause, res.Detail)
	}
	if got := itemOutcomes(res); got != "duplicate duplicate accepted duplicate duplicate duplicate accepted duplicate duplicate duplicate" {
		t.Fatalf("retry items %q", got)
	}
	if sink.count() != 10 {
		t.Fatalf("stored %d after the retry", sink.count())
	}
}

// The filter applies to each item; an item whose required field is
// missing is rejected alone while the others are stored (answered 200,
// the receipt naming the failure); a batch none of whose items can be
// stored, some failing, is rejected as a single event would be; a batch of
// no item, or of filtered items only, is filtered.
func TestBatchFiltersAndMappingFailures(t *testing.T) {
	sink := &memSink{}
	p := pipeline.New(batchStore(t, batchMappings(0), &plugsv1.EventFilter{EventTypes: []string{"confirmed"}}), sink, quiet())
	body := []byte(`{"events":[
		{"id":"EV1","action":"confirmed","links":{"customer":"CU1"}},
		{"id":"EV2","action":"failed","links":{"customer":"CU2"}},
		{"id":"EV3","action":"confirmed","links":{}},
		{"id":"EV4","action":"confirmed","links":{"customer":"CU4"}}]}`)
	res := p.Handle(context.Background(), batchRequest(t, body))
	if res.Outcome != pipeline.Accepted || res.Cause != pipeline.CauseMappingFailed || res.Field != "customer_id" {
		t.Fatalf("got %s %s %s %q", res.Outcome, res.Cause, res.Field, res.Detail)
	}
	if got := itemOutcomes(res); got != "accepted filtered rejected/mapping_failed accepted" {
		t.Fatalf("items %q", got)
	}
	if !strings.HasPrefix(res.Detail, "4 items: 2 accepted, 1 filtered, 1 rejected; item 2: mapping failed: customer_id") {
		t.Fatalf("detail %q", res.Detail)
	}
	if it := res.Items[1]; it.Event.GetEventType() != "failed" {
		t.Fatalf("filtered item: %v", it.Event)
	}
	if sink.count() != 2 {
		t.Fatalf("stored %d", sink.count())
	}

	for _, tc := range []struct {
		name, body string
		outcome    pipeline.Outcome
		cause      pipeline.Cause
	}{
		{"every item fails", `{"events":[{"id":"X1","action":"confirmed"},{"id":"X2","action":"failed"}]}`, pipeline.Rejected, pipeline.CauseMappingFailed},
		{"every item filtered", `{"events":[{"id":"X3","action":"failed"}]}`, pipeline.Filtered, pipeline.CauseNone},
		{"no item", `{"events":[]}`, pipeline.Filtered, pipeline.CauseNone},
		{"no items array", `{"meta":{}}`, pipeline.Filtered, pipeline.CauseNone},
		{"not JSON", `{"events":[1,]}`, pipeline.Rejected, pipeline.CauseUnparsablePayload},
	} {
		res := p.Handle(context.Background(), batchRequest(t, []byte(tc.body)))
		if res.Outcome != tc.outcome || res.Cause != tc.cause {
			t.Errorf("%s: got %s %s %q, want %s %s", tc.name, res.Outcome, res.Cause, res.Detail, tc.outcome, tc.cause)
		}
	}
	if sink.count() != 2 {
		t.Fatalf("stored %d", sink.count())
	}
}

// A request of more items than the source allows is refused whole before
// anything is stored.
func TestBatchItemLimit(t *testing.T) {
	sink := &memSink{}
	p := pipeline.New(batchStore(t, batchMappings(3), nil), sink, quiet())
	res := p.Handle(context.Background(), batchRequest(t, batchBody(4)))
	if res.Outcome != pipeline.Rejected || res.Cause != pipeline.CauseTooManyItems || res.Detail != "mapping: more items than the batch allows: 4 items, the limit is 3" {
		t.Fatalf("got %s %s %q", res.Outcome, res.Cause, res.Detail)
	}
	if sink.calls != 0 {
		t.Fatalf("%d stores", sink.calls)
	}
	if res := p.Handle(context.Background(), batchRequest(t, batchBody(3))); res.Outcome != pipeline.Accepted || sink.count() != 3 {
		t.Fatalf("at the limit: %s %s, stored %d", res.Outcome, res.Cause, sink.count())
	}
}

// Items without a provider id are told apart by the body's hash and their
// place in it: a retry of the same body is a duplicate item by item, the
// same item in another request is not.
func TestBatchItemsWithoutIDs(t *testing.T) {
	sink := &memSink{}
	m := batchMappings(0)
	m.EventId = nil
	p := pipeline.New(batchStore(t, m, nil), sink, quiet())
	first := []byte(`{"events":[{"action":"a","links":{"customer":"C"}},{"action":"a","links":{"customer":"C"}}],"meta":{"at":1}}`)
	res := p.Handle(context.Background(), batchRequest(t, first))
	if res.Outcome != pipeline.Accepted || itemOutcomes(res) != "accepted accepted" {
		t.Fatalf("got %s %q", res.Outcome, itemOutcomes(res))
	}
	if id := res.Items[1].Event.GetEventId(); !strings.HasPrefix(id, "sha256:") || !strings.HasSuffix(id, ":1") {
		t.Fatalf("event id %q", id)
	}
	if res := p.Handle(context.Background(), batchRequest(t, first)); res.Outcome != pipeline.Duplicate {
		t.Fatalf("retry: %s %q", res.Outcome, itemOutcomes(res))
	}
	second := bytes.Replace(first, []byte(`"at":1`), []byte(`"at":2`), 1)
	if res := p.Handle(context.Background(), batchRequest(t, second)); res.Outcome != pipeline.Accepted || itemOutcomes(res) != "accepted accepted" {
		t.Fatalf("another request: %s %q", res.Outcome, itemOutcomes(res))
	}
}

// gateSink holds every store until want of them are under way at once, so
// the test passes only if the events of a batch are stored concurrently;
// it never lets more than the pipeline's bound in.
type gateSink struct {
	want     int32
	inflight atomic.Int32
	peak     atomic.Int32
	open     chan struct{}
	once     sync.Once
}

func (g *gateSink) Enqueue(ctx context.Context, _ *plugsv1.UsageEvent) (bool, error) {
	n := g.inflight.Add(1)
	defer g.inflight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if n >= g.want {
		g.once.Do(func() { close(g.open) })
	}
	select {
	case <-g.open:
		return false, nil
	case <-time.After(10 * time.Second):
		return false, errors.New("the stores of a batch did not overlap")
	}
}

func TestBatchStoresConcurrently(t *testing.T) {
	sink := &gateSink{want: 16, open: make(chan struct{})}
	p := pipeline.New(batchStore(t, batchMappings(0), nil), sink, quiet())
	res := p.Handle(context.Background(), batchRequest(t, batchBody(100)))
	if res.Outcome != pipeline.Accepted {
		t.Fatalf("got %s %s %q", res.Outcome, res.Cause, res.Detail)
	}
	if peak := sink.peak.Load(); peak != 16 {
		t.Fatalf("peak of %d stores at once, want the bound of 16", peak)
	}
}

// Through a real backbone: the events stream, full to a limit, refuses
// some events of a batch; the request is answered 503; once there is room
// the provider's retry stores the rest, and the stream holds each event
// once.
func TestBatchPartialFailureOnTheBackbone(t *testing.T) {
	ctx := context.Background()
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(ctx, backbone.Options{URL: srv.URL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	limit := func(n int64) {
		s, err := conn.JS.Stream(ctx, backbone.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		if _, err := conn.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	msgs := func() uint64 {
		s, err := conn.JS.Stream(ctx, backbone.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	p := pipeline.New(batchStore(t, batchMappings(0), nil), &backbone.EventStore{JS: conn.JS}, quiet())
	body := batchBody(50)

	limit(30)
	res := p.Handle(ctx, batchRequest(t, body))
	if res.Outcome != pipeline.Rejected || res.Cause != pipeline.CauseBackboneUnavailable {
		t.Fatalf("over the limit: %s %s %q", res.Outcome, res.Cause, res.Detail)
	}
	accepted, refused := 0, 0
	for _, it := range res.Items {
		switch {
		case it.Outcome == pipeline.Accepted:
			accepted++
		case it.Cause == pipeline.CauseBackboneUnavailable:
			refused++
		}
	}
	if accepted != 30 || refused != 20 || msgs() != 30 {
		t.Fatalf("accepted %d, refused %d, stream holds %d", accepted, refused, msgs())
	}

	limit(-1)
	res = p.Handle(ctx, batchRequest(t, body))
	if res.Outcome != pipeline.Accepted || res.Detail != "50 items: 20 accepted, 30 duplicate" {
		t.Fatalf("retry: %s %s %q", res.Outcome, res.Cause, res.Detail)
	}
	if n := msgs(); n != 50 {
		t.Fatalf("stream holds %d events, want 50", n)
	}
	if res := p.Handle(ctx, batchRequest(t, body)); res.Outcome != pipeline.Duplicate || msgs() != 50 {
		t.Fatalf("again: %s, stream holds %d", res.Outcome, msgs())
	}
}
