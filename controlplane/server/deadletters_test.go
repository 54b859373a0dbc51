package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// deadWorld is a control plane reaching an embedded JetStream, and a
// forwarder delivering from it to the destinations the tests route there.
type deadWorld struct {
	*env
	db    *store.DB
	nats  *backbone.Conn
	store *backbone.EventStore
	// routes are the destinations the forwarder knows.
	routes *staticRoutes
}

// staticRoutes is a forward.Destinations the tests add to.
type staticRoutes struct {
	mu sync.Mutex
	ds []*plugsv1.DestinationConfig
}

func (s *staticRoutes) ForEvent(tenantID, sourceID string) []*plugsv1.DestinationConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*plugsv1.DestinationConfig
	for _, d := range s.ds {
		if forward.Routes(d, tenantID, sourceID) {
			out = append(out, d)
		}
	}
	return out
}

func (s *staticRoutes) Deleted() []string { return nil }

func (s *staticRoutes) All() []*plugsv1.DestinationConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds)
}

func startDeadWorld(t *testing.T, dialect string) *deadWorld {
	t.Helper()
	ctx := context.Background()
	nsrv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsrv.Shutdown)
	nc, err := backbone.Connect(ctx, backbone.Options{URL: nsrv.URL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}

	var db *store.DB
	e := startEnvWith(t, dialect, func(c *server.Config) {
		c.AllowHTTPHosts = []string{"127.0.0.1"}
		c.JetStream = nc.JS
		db = c.DB
	})

	w := &deadWorld{env: e, db: db, nats: nc, store: &backbone.EventStore{JS: nc.JS}, routes: &staticRoutes{}}
	guard, err := egress.NewGuard([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	// The forwarder's delivery log, which the control plane indexes; it
	// stops after the forwarder (cleanups run last first).
	attempts := forward.NewAttemptLog(nc.JS, "dp-test", 0, slog.New(slog.DiscardHandler))
	logCtx, stopLog := context.WithCancel(context.Background())
	go attempts.Run(logCtx)
	t.Cleanup(func() { stopLog(); <-attempts.Done() })
	fwd := forward.New(nc.JS, w.routes, forward.Options{Guard: guard, ReconcileEvery: 20 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler), OnAttempt: attempts.Record})
	errc := make(chan error, 1)
	go func() { errc <- fwd.Run(context.Background()) }()
	t.Cleanup(func() {
		fwd.Stop()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	return w
}

// billingEndpoint is a customer's receiver: it refuses every delivery with
// 400 while rejecting, and otherwise takes it, counting deliveries by usage
// event id.
type billingEndpoint struct {
	srv       *httptest.Server
	mu        sync.Mutex
	rejecting bool
	got       map[string]int
}

func newBillingEndpoint(t *testing.T, key string) *billingEndpoint {
	b := &billingEndpoint{rejecting: true, got: map[string]int{}}
	v := &consumer.Verifier{Key: key}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.rejecting {
			http.Error(w, "unknown customer", http.StatusBadRequest)
			return
		}
		b.got[ev.Usage.GetId()]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *billingEndpoint) accept() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rejecting = false
}

func (b *billingEndpoint) delivered() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.got))
	for k, v := range b.got {
		out[k] = v
	}
	return out
}

// destination creates a destination of the caller's tenant through the API
// and routes the events of the source to it in the forwarder.
func (w *deadWorld) destination(ctx context.Context, tenant, sourceID string, b *billingEndpoint, key string) string {
	w.t.Helper()
	d, err := w.destSvc().CreateDestination(ctx, createDestReq("billing", b.srv.URL+"/usage", key))
	if err != nil {
		w.t.Fatal(err)
	}
	w.routes.mu.Lock()
	w.routes.ds = append(w.routes.ds, &plugsv1.DestinationConfig{
		Id: d.GetId(), TenantId: tenant, Url: d.GetUrl(), SharedKey: []byte(key), SourceIds: []string{sourceID},
		SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS,
		Status:         plugsv1.Destination_STATUS_ACTIVE,
		RetryPolicy:    &plugsv1.RetryPolicy{InitialBackoff: durationpb.New(10 * time.Millisecond), MaxBackoff: durationpb.New(50 * time.Millisecond)},
		Timeout:        durationpb.New(5 * time.Second),
	})
	w.routes.mu.Unlock()
	return d.GetId()
}

// accepted stores n usage events of the tenant's source, as a receiver
// does, and returns their usage event ids; provider event ids are
// prefix-0 … prefix-(n-1).
func (w *deadWorld) accepted(tenant, sourceID, prefix string, n int) []string {
	w.t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		ev := &plugsv1.UsageEvent{
			Id: ids[i], TenantId: tenant, SourceId: sourceID, EventId: fmt.Sprintf("%s-%d", prefix, i),
			EventType: "invoice.paid", CustomerId: "cus_1", Quantity: "1",
			EventTime: timestamppb.Now(), ReceiveTime: timestamppb.Now(),
		}
		if dup, err := w.store.Enqueue(context.Background(), ev); err != nil || dup {
			w.t.Fatalf("enqueue: dup=%v err=%v", dup, err)
		}
	}
	return ids
}

// deadIDs is the usage event ids of the destination's dead letters, in
// stream order, read from the backbone directly.
func (w *deadWorld) deadIDs(destID string) []string {
	w.t.Helper()
	dead, err := forward.ListDead(context.Background(), w.nats.JS, destID, forward.MaxListLimit)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, d := range dead {
		out = append(out, d.EventID)
	}
	return out
}

func (w *deadWorld) waitDead(destID string, n int) []string {
	w.t.Helper()
	var ids []string
	waitUntil(w.t, fmt.Sprintf("%d dead letters of %s", n, destID), func() bool {
		ids = w.deadIDs(destID)
		return len(ids) == n
	})
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Dead letters produced by a forwarder against a destination answering 400
// are listed page by page over gRPC and REST, and re-driven by filter: only
// those matched leave the dead letters and are delivered, once.
func TestDeadLettersListAndRedrive(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeadLettersListAndRedrive(t, d) })
	}
}

func testDeadLettersListAndRedrive(t *testing.T, dialect string) {
	w := startDeadWorld(t, dialect)
	ctx := as(w.keyA)
	b1, b2 := newBillingEndpoint(t, destKeyA1), newBillingEndpoint(t, destKeyA2)
	d1 := w.destination(ctx, "tA", "src-1", b1, destKeyA1)
	d2 := w.destination(ctx, "tA", "src-2", b2, destKeyA2)
	ids := w.accepted("tA", "src-1", "evt", 5)
	other := w.accepted("tA", "src-2", "other", 1)
	order := w.waitDead(d1, 5)
	if !sameSet(order, ids) {
		t.Fatalf("dead letters %v, accepted %v", order, ids)
	}
	w.waitDead(d2, 1)
	provider := map[string]string{}
	for i, id := range ids {
		provider[id] = fmt.Sprintf("evt-%d", i)
	}

	// gRPC, two at a time: every dead letter once, in stream order.
	var listed []*plugsv1.DeadLetter
	var pages []int
	req := &plugsv1.ListDeadLettersRequest{Id: d1, PageSize: 2}
	for {
		resp, err := w.destSvc().ListDeadLetters(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, resp.GetDeadLetters()...)
		pages = append(pages, len(resp.GetDeadLetters()))
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !slices.Equal(pages, []int{2, 2, 1}) {
		t.Fatalf("pages of %v", pages)
	}
	for i, dl := range listed {
		if dl.GetUsageEventId() != order[i] {
			t.Fatalf("letter %d is %s, want %s", i, dl.GetUsageEventId(), order[i])
		}
		if dl.GetDestinationId() != d1 || dl.GetProviderEventId() != provider[dl.GetUsageEventId()] ||
			dl.GetEventType() != "invoice.paid" || dl.GetSourceId() != "src-1" ||
			dl.GetReason() != plugsv1.DeadLetter_REASON_REJECTED || dl.GetAttempts() != 1 ||
			dl.GetLastStatusCode() != 400 || !strings.Contains(dl.GetLastError(), "400 Bad Request: unknown customer") {
			t.Fatalf("dead letter %v", dl)
		}
		accept, dead := dl.GetAcceptTime().AsTime(), dl.GetDeadTime().AsTime()
		if dl.GetAcceptTime() == nil || dl.GetDeadTime() == nil || dead.Before(accept) || time.Since(accept) > time.Minute {
			t.Fatalf("accepted %v, dead %v", accept, dead)
		}
	}
	// The default page holds them all; d2's letter is never among them.
	all, err := w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d1})
	if err != nil || len(all.GetDeadLetters()) != 5 || all.GetNextPageToken() != "" {
		t.Fatalf("default page: %v %v", all, err)
	}
	for _, dl := range all.GetDeadLetters() {
		if dl.GetUsageEventId() == other[0] || dl.GetDestinationId() != d1 {
			t.Fatalf("another destination's letter listed: %v", dl)
		}
	}
	// A page token is bound to its list.
	first, _ := w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d1, PageSize: 1})
	_, err = w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d2, PageToken: first.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument)
	_, err = w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d1, PageToken: "bogus"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d1, PageSize: -1})
	wantCode(t, err, codes.InvalidArgument)

	// REST, three at a time.
	type restPage struct {
		DeadLetters   []map[string]any `json:"deadLetters"`
		NextPageToken string           `json:"nextPageToken"`
	}
	var restIDs []string
	path := "/v1/destinations/" + d1 + "/deadLetters?pageSize=3"
	for n := 0; ; n++ {
		code, body := w.rest(http.MethodGet, path, w.keyA, "")
		if code != http.StatusOK {
			t.Fatalf("REST list: %d %s", code, body)
		}
		var p restPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if want := []int{3, 2}[n]; len(p.DeadLetters) != want {
			t.Fatalf("REST page %d holds %d: %s", n, len(p.DeadLetters), body)
		}
		for _, dl := range p.DeadLetters {
			if dl["reason"] != "REASON_REJECTED" || dl["lastStatusCode"] != float64(400) || dl["attempts"] != float64(1) ||
				dl["providerEventId"] != provider[dl["usageEventId"].(string)] || dl["deadTime"] == nil || dl["acceptTime"] == nil {
				t.Fatalf("REST dead letter %v", dl)
			}
			restIDs = append(restIDs, dl["usageEventId"].(string))
		}
		if p.NextPageToken == "" {
			break
		}
		path = "/v1/destinations/" + d1 + "/deadLetters?pageSize=3&pageToken=" + url.QueryEscape(p.NextPageToken)
	}
	if !slices.Equal(restIDs, order) {
		t.Fatalf("REST listed %v, want %v", restIDs, order)
	}

	// Filters that are wrong, and filters that match nothing.
	for _, f := range []*plugsv1.DeadLetterFilter{
		{Reason: plugsv1.DeadLetter_Reason(99)},
		{UsageEventIds: []string{""}},
		{DeadTimeStart: timestamppb.Now(), DeadTimeEnd: timestamppb.New(time.Now().Add(-time.Hour))},
	} {
		_, err := w.destSvc().RedriveDeadLetters(ctx, &plugsv1.RedriveDeadLettersRequest{Id: d1, Filter: f})
		wantCode(t, err, codes.InvalidArgument)
	}
	earliest := listed[0].GetDeadTime().AsTime()
	for _, f := range []*plugsv1.DeadLetterFilter{
		{Reason: plugsv1.DeadLetter_REASON_ATTEMPTS_EXHAUSTED},
		{DeadTimeEnd: timestamppb.New(earliest)},
		{DeadTimeStart: timestamppb.New(time.Now().Add(time.Hour))},
		{UsageEventIds: other},
		{ProviderEventIds: []string{"other-0"}},
		{UsageEventIds: ids[:1], ProviderEventIds: []string{"evt-1"}},
	} {
		resp, err := w.destSvc().RedriveDeadLetters(ctx, &plugsv1.RedriveDeadLettersRequest{Id: d1, Filter: f})
		if err != nil || resp.GetRedrivenCount() != 0 {
			t.Fatalf("filter %v re-drove %v (%v)", f, resp, err)
		}
	}
	if got := w.deadIDs(d1); !slices.Equal(got, order) {
		t.Fatalf("dead letters changed to %v", got)
	}

	// Two by usage event id over REST: they leave the dead letters, are
	// queued again and delivered, once; the rest stay.
	b1.accept()
	body := fmt.Sprintf(`{"filter":{"usageEventIds":[%q,%q],"reason":"REASON_REJECTED","deadTimeStart":%q}}`,
		ids[0], ids[2], earliest.Add(-time.Second).Format(time.RFC3339Nano))
	code, resp := w.rest(http.MethodPost, "/v1/destinations/"+d1+"/deadLetters:redrive", w.keyA, body)
	if code != http.StatusOK || string(compactJSON(t, resp)) != `{"redrivenCount":2}` {
		t.Fatalf("REST redrive: %d %s", code, resp)
	}
	if left := w.deadIDs(d1); !sameSet(left, []string{ids[1], ids[3], ids[4]}) {
		t.Fatalf("left %v", left)
	}
	msg, err := w.deliveries().GetLastMsgForSubject(context.Background(), backbone.DeliverySubject(d1))
	if err != nil || msg.Header.Get(forward.HeaderRedriven) == "" ||
		!slices.Contains([]string{ids[0], ids[2]}, msg.Header.Get(forward.HeaderEventID)) {
		t.Fatalf("last delivery queued: %v (%v)", msg, err)
	}
	waitUntil(t, "the re-driven deliveries", func() bool {
		got := b1.delivered()
		return got[ids[0]] == 1 && got[ids[2]] == 1
	})

	// One by provider event id over gRPC, then the rest without a filter.
	r, err := w.destSvc().RedriveDeadLetters(ctx, &plugsv1.RedriveDeadLettersRequest{Id: d1,
		Filter: &plugsv1.DeadLetterFilter{ProviderEventIds: []string{"evt-3"}}})
	if err != nil || r.GetRedrivenCount() != 1 {
		t.Fatalf("re-drove %v (%v)", r, err)
	}
	if left := w.deadIDs(d1); !sameSet(left, []string{ids[1], ids[4]}) {
		t.Fatalf("left %v", left)
	}
	r, err = w.destSvc().RedriveDeadLetters(ctx, &plugsv1.RedriveDeadLettersRequest{Id: d1})
	if err != nil || r.GetRedrivenCount() != 2 {
		t.Fatalf("re-drove %v (%v)", r, err)
	}
	waitUntil(t, "every delivery", func() bool { return len(b1.delivered()) == 5 })
	for id, n := range b1.delivered() {
		if n != 1 || !slices.Contains(ids, id) {
			t.Fatalf("delivered %s %d times", id, n)
		}
	}
	empty, err := w.destSvc().ListDeadLetters(ctx, &plugsv1.ListDeadLettersRequest{Id: d1})
	if err != nil || len(empty.GetDeadLetters()) != 0 || empty.GetNextPageToken() != "" {
		t.Fatalf("after re-driving all: %v %v", empty, err)
	}
	// The other destination's dead letter was never touched.
	if got := w.deadIDs(d2); !slices.Equal(got, other) {
		t.Fatalf("other destination's dead letters %v", got)
	}
	if n := len(b2.delivered()); n != 0 {
		t.Fatalf("other destination got %d deliveries", n)
	}
}

func (w *deadWorld) deliveries() jetstream.Stream {
	w.t.Helper()
	s, err := w.nats.JS.Stream(context.Background(), backbone.DeliveriesStream)
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	out, _ := json.Marshal(v)
	return out
}

// Another tenant's destination id is not found, exactly like a missing
// one, on both methods and both transports, and nothing is re-driven.
func TestDeadLettersTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeadLettersTenantIsolation(t, d) })
	}
}

func testDeadLettersTenantIsolation(t *testing.T, dialect string) {
	w := startDeadWorld(t, dialect)
	b := newBillingEndpoint(t, destKeyA1)
	dA := w.destination(as(w.keyA), "tA", "src-1", b, destKeyA1)
	ids := w.accepted("tA", "src-1", "evt", 2)
	w.waitDead(dA, 2)

	missing := uuid.Must(uuid.NewV7()).String()
	asB := as(w.keyB)
	var notFound []*errdetails.ResourceInfo
	for _, id := range []string{dA, missing} {
		_, err := w.destSvc().ListDeadLetters(asB, &plugsv1.ListDeadLettersRequest{Id: id})
		st := wantCode(t, err, codes.NotFound)
		_, err = w.destSvc().RedriveDeadLetters(asB, &plugsv1.RedriveDeadLettersRequest{Id: id})
		st2 := wantCode(t, err, codes.NotFound)
		if st.Message() != "destination not found" || st2.Message() != st.Message() {
			t.Fatalf("messages %q %q", st.Message(), st2.Message())
		}
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.ResourceInfo); ok {
				notFound = append(notFound, ri)
			}
		}
		code, body := w.rest(http.MethodGet, "/v1/destinations/"+id+"/deadLetters", w.keyB, "")
		if code != http.StatusNotFound || strings.Contains(string(body), "deadLetters\"") {
			t.Fatalf("REST list as B: %d %s", code, body)
		}
		code, body = w.rest(http.MethodPost, "/v1/destinations/"+id+"/deadLetters:redrive", w.keyB, `{}`)
		if code != http.StatusNotFound {
			t.Fatalf("REST redrive as B: %d %s", code, body)
		}
	}
	// The two answers differ in the id they name, and in nothing else.
	if len(notFound) != 2 || notFound[0].GetResourceName() != dA || notFound[1].GetResourceName() != missing ||
		!proto.Equal(&errdetails.ResourceInfo{ResourceType: notFound[0].GetResourceType()}, &errdetails.ResourceInfo{ResourceType: notFound[1].GetResourceType()}) {
		t.Fatalf("details %v", notFound)
	}
	if got := w.deadIDs(dA); !sameSet(got, ids) {
		t.Fatalf("dead letters after B's calls: %v", got)
	}
	if n := len(b.delivered()); n != 0 {
		t.Fatalf("B's re-drive delivered %d", n)
	}
	// A malformed id is refused before anything is looked up.
	_, err := w.destSvc().ListDeadLetters(asB, &plugsv1.ListDeadLettersRequest{Id: "not-a-uuid"})
	wantCode(t, err, codes.InvalidArgument)
	// The owner re-drives them while the destination still refuses: the
	// call re-drives the two there when it starts, once each, and they come
	// back as dead letters.
	r, err := w.destSvc().RedriveDeadLetters(as(w.keyA), &plugsv1.RedriveDeadLettersRequest{Id: dA})
	if err != nil || r.GetRedrivenCount() != 2 {
		t.Fatalf("owner re-drove %v (%v)", r, err)
	}
	if again := w.waitDead(dA, 2); !sameSet(again, ids) {
		t.Fatalf("dead again: %v", again)
	}
	b.accept()
	r, err = w.destSvc().RedriveDeadLetters(as(w.keyA), &plugsv1.RedriveDeadLettersRequest{Id: dA})
	if err != nil || r.GetRedrivenCount() != 2 {
		t.Fatalf("owner re-drove %v (%v)", r, err)
	}
	waitUntil(t, "the re-driven deliveries", func() bool {
		got := b.delivered()
		return got[ids[0]] == 1 && got[ids[1]] == 1
	})
}

// Without a backbone both methods answer FAILED_PRECONDITION for the
// caller's own destination, and NOT_FOUND for anyone else's.
func TestDeadLettersWithoutBackbone(t *testing.T) {
	e := startEnv(t, "sqlite")
	d, err := e.destSvc().CreateDestination(as(e.keyA), createDestReq("billing", "https://billing.example.com/usage", destKeyA1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.destSvc().ListDeadLetters(as(e.keyA), &plugsv1.ListDeadLettersRequest{Id: d.GetId()})
	st := wantCode(t, err, codes.FailedPrecondition)
	if st.Message() != "no backbone configured" {
		t.Fatalf("message %q", st.Message())
	}
	found := false
	for _, det := range st.Details() {
		if pf, ok := det.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) == 1 &&
			strings.Contains(pf.GetViolations()[0].GetDescription(), "--nats-url") {
			found = true
		}
	}
	if !found {
		t.Fatalf("details %v", st.Details())
	}
	_, err = e.destSvc().RedriveDeadLetters(as(e.keyA), &plugsv1.RedriveDeadLettersRequest{Id: d.GetId()})
	wantCode(t, err, codes.FailedPrecondition)
	code, body := e.rest(http.MethodGet, "/v1/destinations/"+d.GetId()+"/deadLetters", e.keyA, "")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "no backbone configured") {
		t.Fatalf("REST list: %d %s", code, body)
	}
	code, body = e.rest(http.MethodPost, "/v1/destinations/"+d.GetId()+"/deadLetters:redrive", e.keyA, `{}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "no backbone configured") {
		t.Fatalf("REST redrive: %d %s", code, body)
	}
	_, err = e.destSvc().ListDeadLetters(as(e.keyB), &plugsv1.ListDeadLettersRequest{Id: d.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = e.destSvc().RedriveDeadLetters(as(e.keyB), &plugsv1.RedriveDeadLettersRequest{Id: d.GetId()})
	wantCode(t, err, codes.NotFound)
}
