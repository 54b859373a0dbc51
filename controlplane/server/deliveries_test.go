package server_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// flakyEndpoint is a customer's receiver that answers each event's first
// requests with the statuses in fail, then 204; it verifies every
// request and counts the 2xx answers by webhook-id.
type flakyEndpoint struct {
	srv  *httptest.Server
	fail []int

	mu       sync.Mutex
	requests map[string]int
	got      map[string]int
}

func newFlakyEndpoint(t *testing.T, key string, fail ...int) *flakyEndpoint {
	f := &flakyEndpoint{fail: fail, requests: map[string]int{}, got: map[string]int{}}
	v := &consumer.Verifier{Key: key}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		if id != ev.ID {
			t.Errorf("webhook-id %q carries event %q", id, ev.ID)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests[id]++
		if n := f.requests[id]; n <= len(f.fail) {
			http.Error(w, "billing is down", f.fail[n-1])
			return
		}
		f.got[id]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flakyEndpoint) delivered() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.got))
	for k, v := range f.got {
		out[k] = v
	}
	return out
}

// logDestination creates a destination of the key's tenant delivering to
// f, routes the source's events to it, and returns its id and its
// tenant's.
func (w *deadWorld) logDestination(key, sourceID string, f *flakyEndpoint, sharedKey string) (destID, tenantID string) {
	w.t.Helper()
	d, err := w.destSvc().CreateDestination(as(key), createDestReq("billing", f.srv.URL+"/usage", sharedKey))
	if err != nil {
		w.t.Fatal(err)
	}
	row, err := w.db.Client.Destination.Get(viewer.System(context.Background()), uuid.MustParse(d.GetId()))
	if err != nil {
		w.t.Fatal(err)
	}
	tenantID = row.TenantID.String()
	w.routes.mu.Lock()
	w.routes.ds = append(w.routes.ds, &plugsv1.DestinationConfig{
		Id: d.GetId(), TenantId: tenantID, Url: d.GetUrl(), SharedKey: []byte(sharedKey), SourceIds: []string{sourceID},
		SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS,
		Status:         plugsv1.Destination_STATUS_ACTIVE,
		RetryPolicy:    &plugsv1.RetryPolicy{InitialBackoff: durationpb.New(10 * time.Millisecond), MaxBackoff: durationpb.New(50 * time.Millisecond)},
		Timeout:        durationpb.New(5 * time.Second),
	})
	w.routes.mu.Unlock()
	return d.GetId(), tenantID
}

// listAll pages through a destination's log over gRPC, size at a time.
func (w *deadWorld) listAll(key string, req *plugsv1.ListDeliveriesRequest) []*plugsv1.DeliveryAttempt {
	w.t.Helper()
	var out []*plugsv1.DeliveryAttempt
	for {
		resp, err := w.destSvc().ListDeliveries(as(key), req)
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, resp.GetDeliveries()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// waitLogged polls until the destination's log holds n entries, and
// returns them.
func (w *deadWorld) waitLogged(key, destID string, n int) []*plugsv1.DeliveryAttempt {
	w.t.Helper()
	var got []*plugsv1.DeliveryAttempt
	waitUntil(w.t, fmt.Sprintf("%d entries in the delivery log of %s", n, destID), func() bool {
		resp, err := w.destSvc().ListDeliveries(as(key), &plugsv1.ListDeliveriesRequest{Id: destID, PageSize: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		got = resp.GetDeliveries()
		return len(got) == n
	})
	return got
}

func attemptIDs(as []*plugsv1.DeliveryAttempt) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.GetId()
	}
	return out
}

// newestAttemptsFirst orders entries as the log does.
func newestAttemptsFirst(as []*plugsv1.DeliveryAttempt) []string {
	as = slices.Clone(as)
	slices.SortFunc(as, func(a, b *plugsv1.DeliveryAttempt) int {
		if c := b.GetAttemptTime().AsTime().Compare(a.GetAttemptTime().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(b.GetId(), a.GetId())
	})
	return attemptIDs(as)
}

// A destination failing each event twice (500, 503) before taking it
// leaves three entries per event in its log, newest first, found by each
// filter over gRPC and REST; retrying one delivery reaches the destination
// again with the same webhook-id and logs a new first attempt.
func TestDeliveryLogListedAndRetried(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeliveryLogListedAndRetried(t, d) })
	}
}

func testDeliveryLogListedAndRetried(t *testing.T, dialect string) {
	w := startDeadWorld(t, dialect)
	f := newFlakyEndpoint(t, destKeyA1, http.StatusInternalServerError, http.StatusServiceUnavailable)
	dest, tenant := w.logDestination(w.keyA, "src-1", f, destKeyA1)
	ids := w.accepted(tenant, "src-1", "evt", 3)
	log := w.waitLogged(w.keyA, dest, 9)
	if got := f.delivered(); len(got) != 3 || got[ids[0]] != 1 || got[ids[1]] != 1 || got[ids[2]] != 1 {
		t.Fatalf("delivered %v", got)
	}
	if got, want := attemptIDs(log), newestAttemptsFirst(log); !slices.Equal(got, want) {
		t.Fatalf("listed\n %v\nwant newest first\n %v", got, want)
	}
	byEvent := map[string][]*plugsv1.DeliveryAttempt{}
	for _, a := range log {
		byEvent[a.GetUsageEventId()] = append(byEvent[a.GetUsageEventId()], a)
	}
	for i, id := range ids {
		es := byEvent[id]
		if len(es) != 3 {
			t.Fatalf("event %s has %d entries", id, len(es))
		}
		// Newest first: delivered at the third attempt, after a 503 and
		// a 500, each with its next try due.
		for j, want := range []struct {
			attempt int32
			status  int32
			outcome plugsv1.DeliveryAttempt_Outcome
		}{
			{3, 204, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED},
			{2, 503, plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
			{1, 500, plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
		} {
			a := es[j]
			if a.GetAttempt() != want.attempt || a.GetStatusCode() != want.status || a.GetOutcome() != want.outcome ||
				a.GetDestinationId() != dest || a.GetProviderEventId() != fmt.Sprintf("evt-%d", i) || a.GetEventType() != "invoice.paid" ||
				a.GetSourceId() != "src-1" || a.GetDataPlane() != "dp-test" || a.GetAttemptTime() == nil || a.GetLatency() == nil {
				t.Fatalf("event %d entry %d: %v", i, j, a)
			}
			if want.outcome == plugsv1.DeliveryAttempt_OUTCOME_RETRYING {
				if !strings.Contains(a.GetError(), fmt.Sprint(want.status)) || !strings.Contains(a.GetError(), "billing is down") ||
					a.GetNextRetryTime() == nil || !a.GetNextRetryTime().AsTime().After(a.GetAttemptTime().AsTime()) {
					t.Fatalf("failed entry %v", a)
				}
			} else if a.GetError() != "" || a.GetNextRetryTime() != nil {
				t.Fatalf("delivered entry %v", a)
			}
		}
	}

	// Filters, each checked against the log filtered here, and across
	// pages of two.
	where := func(keep func(*plugsv1.DeliveryAttempt) bool) []string {
		var out []string
		for _, a := range log {
			if keep(a) {
				out = append(out, a.GetId())
			}
		}
		return out
	}
	mid := log[4].GetAttemptTime()
	for name, c := range map[string]struct {
		req  *plugsv1.ListDeliveriesRequest
		want []string
	}{
		"usage event": {&plugsv1.ListDeliveriesRequest{UsageEventId: ids[1]},
			where(func(a *plugsv1.DeliveryAttempt) bool { return a.GetUsageEventId() == ids[1] })},
		"provider event": {&plugsv1.ListDeliveriesRequest{ProviderEventId: "evt-2"},
			where(func(a *plugsv1.DeliveryAttempt) bool { return a.GetProviderEventId() == "evt-2" })},
		"delivered": {&plugsv1.ListDeliveriesRequest{Outcome: plugsv1.DeliveryAttempt_OUTCOME_DELIVERED},
			where(func(a *plugsv1.DeliveryAttempt) bool { return a.GetStatusCode() == 204 })},
		"retrying": {&plugsv1.ListDeliveriesRequest{Outcome: plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
			where(func(a *plugsv1.DeliveryAttempt) bool { return a.GetStatusCode() != 204 })},
		"dead-lettered, none": {&plugsv1.ListDeliveriesRequest{Outcome: plugsv1.DeliveryAttempt_OUTCOME_DEAD_LETTERED}, nil},
		"start time, inclusive": {&plugsv1.ListDeliveriesRequest{StartTime: mid},
			where(func(a *plugsv1.DeliveryAttempt) bool { return !a.GetAttemptTime().AsTime().Before(mid.AsTime()) })},
		"end time, exclusive": {&plugsv1.ListDeliveriesRequest{EndTime: mid},
			where(func(a *plugsv1.DeliveryAttempt) bool { return a.GetAttemptTime().AsTime().Before(mid.AsTime()) })},
		"combined": {&plugsv1.ListDeliveriesRequest{UsageEventId: ids[0], Outcome: plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
			where(func(a *plugsv1.DeliveryAttempt) bool {
				return a.GetUsageEventId() == ids[0] && a.GetStatusCode() != 204
			})},
		"unknown event": {&plugsv1.ListDeliveriesRequest{UsageEventId: uuid.NewString()}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			c.req.Id = dest
			resp, err := w.destSvc().ListDeliveries(as(w.keyA), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := attemptIDs(resp.GetDeliveries()); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			c.req.PageSize = 2
			if got := attemptIDs(w.listAll(w.keyA, c.req)); !slices.Equal(got, c.want) {
				t.Fatalf("paged %v, want %v", got, c.want)
			}
		})
	}

	// REST: the filters as query parameters, pages of two.
	q := url.Values{}
	q.Set("outcome", "OUTCOME_RETRYING")
	q.Set("usageEventId", ids[2])
	q.Set("pageSize", "1")
	var restIDs []string
	var statuses []float64
	for path := "/v1/destinations/" + dest + "/deliveries?" + q.Encode(); ; {
		code, body := w.rest(http.MethodGet, path, w.keyA, "")
		var page struct {
			Deliveries    []map[string]any `json:"deliveries"`
			NextPageToken string           `json:"nextPageToken"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("REST list: %d %s", code, body)
		}
		for _, a := range page.Deliveries {
			if a["outcome"] != "OUTCOME_RETRYING" || a["usageEventId"] != ids[2] || a["nextRetryTime"] == nil {
				t.Fatalf("REST entry %v", a)
			}
			restIDs = append(restIDs, a["id"].(string))
			statuses = append(statuses, a["statusCode"].(float64))
		}
		if page.NextPageToken == "" {
			break
		}
		q.Set("pageToken", page.NextPageToken)
		path = "/v1/destinations/" + dest + "/deliveries?" + q.Encode()
	}
	if len(restIDs) != 2 || !slices.Equal(statuses, []float64{503, 500}) {
		t.Fatalf("REST listed %v with statuses %v", restIDs, statuses)
	}

	// Retry one delivery over gRPC: the destination gets the event again,
	// under the same webhook-id, at a new first attempt.
	resp, err := w.destSvc().RetryDelivery(as(w.keyA), &plugsv1.RetryDeliveryRequest{Id: dest, UsageEventId: ids[1]})
	if err != nil || resp.GetUsageEventId() != ids[1] {
		t.Fatalf("retry: %v %v", resp, err)
	}
	waitUntil(t, "the retried delivery", func() bool { return f.delivered()[ids[1]] == 2 })
	log = w.waitLogged(w.keyA, dest, 10)
	if a := log[0]; a.GetUsageEventId() != ids[1] || a.GetAttempt() != 1 || a.GetOutcome() != plugsv1.DeliveryAttempt_OUTCOME_DELIVERED ||
		a.GetStatusCode() != 204 {
		t.Fatalf("retried entry %v", a)
	}
	// And over REST, with the id in capitals.
	code, body := w.rest(http.MethodPost, "/v1/destinations/"+dest+"/deliveries/"+strings.ToUpper(ids[2])+":retry", w.keyA, `{}`)
	if code != http.StatusOK || string(compactJSON(t, body)) != fmt.Sprintf(`{"usageEventId":%q}`, ids[2]) {
		t.Fatalf("REST retry: %d %s", code, body)
	}
	waitUntil(t, "the delivery retried over REST", func() bool { return f.delivered()[ids[2]] == 2 })
	w.waitLogged(w.keyA, dest, 11)
	if got := f.delivered(); got[ids[0]] != 1 {
		t.Fatalf("an event not retried was delivered again: %v", got)
	}
}

// Pages of the log neither skip nor repeat an entry while attempts keep
// arriving: newer ones, ones as old as those listed (a data plane's
// backlog), and ties with a page's last entry.
func TestDeliveryPagesStableUnderInserts(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeliveryPagesStableUnderInserts(t, d) })
	}
}

func testDeliveryPagesStableUnderInserts(t *testing.T, dialect string) {
	w := startDeadWorld(t, dialect)
	f := newFlakyEndpoint(t, destKeyA1)
	dest, tenant := w.logDestination(w.keyA, "src-1", f, destKeyA1)
	base := receiptBase // within the retention, like the receipts
	publish := func(at time.Time) *plugsv1.DeliveryAttempt {
		a := forward.Attempt{
			ID: uuid.Must(uuid.NewV7()).String(), DestinationID: dest, TenantID: tenant, EventID: uuid.NewString(),
			Number: 1, Time: at, StatusCode: 204, Outcome: forward.Delivered,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := forward.PublishAttempt(ctx, w.nats.JS, "dp-test", a); err != nil {
			t.Fatal(err)
		}
		return forward.AttemptProto(a, "dp-test")
	}
	var before []*plugsv1.DeliveryAttempt
	for i := range 20 {
		// Pairs made at the same instant, so page boundaries fall inside
		// ties too.
		before = append(before, publish(base.Add(time.Duration(i/2)*time.Second)))
	}
	total := len(before)
	w.waitLogged(w.keyA, dest, total)

	seen := map[string]int{}
	var order []string
	req := &plugsv1.ListDeliveriesRequest{Id: dest, PageSize: 3}
	for page := 0; ; page++ {
		resp, err := w.destSvc().ListDeliveries(as(w.keyA), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetDeliveries() {
			seen[a.GetId()]++
			order = append(order, a.GetId())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
		last := resp.GetDeliveries()[len(resp.GetDeliveries())-1].GetAttemptTime().AsTime()
		publish(time.Now())
		publish(base.Add(time.Duration(page)*time.Second + time.Millisecond))
		publish(last)
		total += 3
		w.waitLogged(w.keyA, dest, total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("entry %s listed %d times", id, n)
		}
	}
	var got []string
	for _, id := range order {
		if slices.ContainsFunc(before, func(a *plugsv1.DeliveryAttempt) bool { return a.GetId() == id }) {
			got = append(got, id)
		}
	}
	if want := newestAttemptsFirst(before); !slices.Equal(got, want) {
		t.Fatalf("order across pages\n %v\nwant\n %v", got, want)
	}
}

// Another tenant's destination is not found, exactly like a missing one,
// on both methods and both transports; nothing is retried.
func TestDeliveriesTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeliveriesTenantIsolation(t, d) })
	}
}

func testDeliveriesTenantIsolation(t *testing.T, dialect string) {
	w := startDeadWorld(t, dialect)
	f := newFlakyEndpoint(t, destKeyA1)
	destA, tenantA := w.logDestination(w.keyA, "src-1", f, destKeyA1)
	fb := newFlakyEndpoint(t, destKeyB1)
	destB, _ := w.logDestination(w.keyB, "src-b", fb, destKeyB1)
	ids := w.accepted(tenantA, "src-1", "evt", 1)
	w.waitLogged(w.keyA, destA, 1)

	missing := uuid.Must(uuid.NewV7()).String()
	asB := as(w.keyB)
	var messages []string
	for _, id := range []string{destA, missing} {
		_, err := w.destSvc().ListDeliveries(asB, &plugsv1.ListDeliveriesRequest{Id: id})
		st := wantCode(t, err, codes.NotFound)
		_, err = w.destSvc().RetryDelivery(asB, &plugsv1.RetryDeliveryRequest{Id: id, UsageEventId: ids[0]})
		st2 := wantCode(t, err, codes.NotFound)
		messages = append(messages, st.Message(), st2.Message())
		code, body := w.rest(http.MethodGet, "/v1/destinations/"+id+"/deliveries", w.keyB, "")
		if code != http.StatusNotFound || strings.Contains(string(body), ids[0]) {
			t.Fatalf("REST list as B: %d %s", code, body)
		}
		code, body = w.rest(http.MethodPost, "/v1/destinations/"+id+"/deliveries/"+ids[0]+":retry", w.keyB, `{}`)
		if code != http.StatusNotFound {
			t.Fatalf("REST retry as B: %d %s", code, body)
		}
	}
	for _, m := range messages {
		if m != "destination not found" {
			t.Fatalf("messages %q", messages)
		}
	}
	// B's own destination knows nothing of A's event.
	empty, err := w.destSvc().ListDeliveries(asB, &plugsv1.ListDeliveriesRequest{Id: destB, UsageEventId: ids[0]})
	if err != nil || len(empty.GetDeliveries()) != 0 {
		t.Fatalf("B's log: %v %v", empty, err)
	}
	_, err = w.destSvc().RetryDelivery(asB, &plugsv1.RetryDeliveryRequest{Id: destB, UsageEventId: ids[0]})
	if st := wantCode(t, err, codes.NotFound); st.Message() != "delivery not found" {
		t.Fatalf("message %q", st.Message())
	}
	if got := f.delivered(); got[ids[0]] != 1 || len(fb.delivered()) != 0 {
		t.Fatalf("delivered %v and %v", got, fb.delivered())
	}
}

// Bad input is INVALID_ARGUMENT naming the field, before anything is
// looked up.
func TestDeliveriesValidation(t *testing.T) {
	w := startDeadWorld(t, "sqlite")
	f := newFlakyEndpoint(t, destKeyA1)
	dest, tenant := w.logDestination(w.keyA, "src-1", f, destKeyA1)
	other, _ := w.logDestination(w.keyA, "src-2", f, destKeyA1)
	w.accepted(tenant, "src-1", "evt", 2)
	w.waitLogged(w.keyA, dest, 2)
	first, err := w.destSvc().ListDeliveries(as(w.keyA), &plugsv1.ListDeliveriesRequest{Id: dest, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("%v %v", first, err)
	}
	long := strings.Repeat("x", 1025)
	at := timestamppb.Now()
	for name, c := range map[string]struct {
		req   *plugsv1.ListDeliveriesRequest
		field string
	}{
		"no destination":             {&plugsv1.ListDeliveriesRequest{}, "id"},
		"destination not a uuid":     {&plugsv1.ListDeliveriesRequest{Id: "billing"}, "id"},
		"negative page size":         {&plugsv1.ListDeliveriesRequest{Id: dest, PageSize: -1}, "page_size"},
		"garbage token":              {&plugsv1.ListDeliveriesRequest{Id: dest, PageToken: "garbage"}, "page_token"},
		"another destination's page": {&plugsv1.ListDeliveriesRequest{Id: other, PageToken: first.GetNextPageToken()}, "page_token"},
		"unknown outcome":            {&plugsv1.ListDeliveriesRequest{Id: dest, Outcome: 99}, "outcome"},
		"long usage event id":        {&plugsv1.ListDeliveriesRequest{Id: dest, UsageEventId: long}, "usage_event_id"},
		"long provider event id":     {&plugsv1.ListDeliveriesRequest{Id: dest, ProviderEventId: long}, "provider_event_id"},
		"invalid start":              {&plugsv1.ListDeliveriesRequest{Id: dest, StartTime: &timestamppb.Timestamp{Nanos: -1}}, "start_time"},
		"invalid end":                {&plugsv1.ListDeliveriesRequest{Id: dest, EndTime: &timestamppb.Timestamp{Seconds: -1 << 40}}, "end_time"},
		"end before start": {&plugsv1.ListDeliveriesRequest{Id: dest, StartTime: at,
			EndTime: timestamppb.New(at.AsTime().Add(-time.Second))}, "end_time"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.destSvc().ListDeliveries(as(w.keyA), c.req)
			if v := fieldViolations(t, err); v[c.field] == "" {
				t.Fatalf("no violation of %s in %v", c.field, v)
			}
		})
	}
	for name, c := range map[string]struct {
		req   *plugsv1.RetryDeliveryRequest
		field string
	}{
		"destination not a uuid": {&plugsv1.RetryDeliveryRequest{Id: "billing", UsageEventId: uuid.NewString()}, "id"},
		"no usage event":         {&plugsv1.RetryDeliveryRequest{Id: dest}, "usage_event_id"},
		"usage event not a uuid": {&plugsv1.RetryDeliveryRequest{Id: dest, UsageEventId: "evt-1"}, "usage_event_id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.destSvc().RetryDelivery(as(w.keyA), c.req)
			if v := fieldViolations(t, err); v[c.field] == "" {
				t.Fatalf("no violation of %s in %v", c.field, v)
			}
		})
	}
	if code, body := w.rest(http.MethodGet, "/v1/destinations/"+dest+"/deliveries?pageSize=-1", w.keyA, ""); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "page_size") {
		t.Fatalf("REST invalid page size: %d %s", code, body)
	}
	if code, body := w.rest(http.MethodPost, "/v1/destinations/"+dest+"/deliveries/evt-1:retry", w.keyA, `{}`); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "usage_event_id") {
		t.Fatalf("REST invalid usage event id: %d %s", code, body)
	}
	_, err = w.destSvc().ListDeliveries(as(""), &plugsv1.ListDeliveriesRequest{Id: dest})
	wantCode(t, err, codes.Unauthenticated)
}

// A delivery the backbone no longer holds cannot be retried: the log
// outlives it.
func TestRetryDeliveryAgedOut(t *testing.T) {
	w := startDeadWorld(t, "sqlite")
	f := newFlakyEndpoint(t, destKeyA1)
	dest, tenant := w.logDestination(w.keyA, "src-1", f, destKeyA1)
	ids := w.accepted(tenant, "src-1", "evt", 1)
	w.waitLogged(w.keyA, dest, 1)
	// The delivery ages out of its stream.
	if err := w.deliveries().Purge(context.Background(), jetstream.WithPurgeSubject(backbone.DeliverySubject(dest))); err != nil {
		t.Fatal(err)
	}
	_, err := w.destSvc().RetryDelivery(as(w.keyA), &plugsv1.RetryDeliveryRequest{Id: dest, UsageEventId: ids[0]})
	st := wantCode(t, err, codes.FailedPrecondition)
	found := false
	for _, d := range st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) == 1 &&
			strings.Contains(pf.GetViolations()[0].GetDescription(), "8 days") {
			found = true
		}
	}
	if !found || st.Message() != "the delivery is no longer held by the backbone" {
		t.Fatalf("%v %v", st.Message(), st.Details())
	}
	code, body := w.rest(http.MethodPost, "/v1/destinations/"+dest+"/deliveries/"+ids[0]+":retry", w.keyA, `{}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "no longer held") {
		t.Fatalf("REST retry: %d %s", code, body)
	}
	if got := f.delivered(); got[ids[0]] != 1 {
		t.Fatalf("delivered %v", got)
	}
}

// Without a backbone the log is still listed, and a retry is
// FAILED_PRECONDITION for the caller's own destination and NOT_FOUND for
// anyone else's.
func TestRetryDeliveryWithoutBackbone(t *testing.T) {
	e := startEnv(t, "sqlite")
	d, err := e.destSvc().CreateDestination(as(e.keyA), createDestReq("billing", "https://billing.example.com/usage", destKeyA1))
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.destSvc().ListDeliveries(as(e.keyA), &plugsv1.ListDeliveriesRequest{Id: d.GetId()})
	if err != nil || len(list.GetDeliveries()) != 0 {
		t.Fatalf("list: %v %v", list, err)
	}
	_, err = e.destSvc().RetryDelivery(as(e.keyA), &plugsv1.RetryDeliveryRequest{Id: d.GetId(), UsageEventId: uuid.NewString()})
	if st := wantCode(t, err, codes.FailedPrecondition); st.Message() != "no backbone configured" {
		t.Fatalf("message %q", st.Message())
	}
	code, body := e.rest(http.MethodPost, "/v1/destinations/"+d.GetId()+"/deliveries/"+uuid.NewString()+":retry", e.keyA, `{}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "--nats-url") {
		t.Fatalf("REST retry: %d %s", code, body)
	}
	_, err = e.destSvc().RetryDelivery(as(e.keyB), &plugsv1.RetryDeliveryRequest{Id: d.GetId(), UsageEventId: uuid.NewString()})
	wantCode(t, err, codes.NotFound)
	_, err = e.destSvc().ListDeliveries(as(e.keyB), &plugsv1.ListDeliveriesRequest{Id: d.GetId()})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("B lists A's log: %v", err)
	}
}
