package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// receiptWorld is a control plane indexing receipts from an embedded
// JetStream, whose streams a data plane would have created.
type receiptWorld struct {
	*env
	js jetstream.JetStream
	db *store.DB
}

func startReceiptWorld(t *testing.T, dialect string) *receiptWorld {
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
	w := &receiptWorld{js: nc.JS}
	w.env = startEnvWith(t, dialect, func(c *server.Config) {
		c.JetStream = nc.JS
		w.db = c.DB
	})
	return w
}

func (w *receiptWorld) receiptSvc() plugsv1.ReceiptServiceClient {
	return plugsv1.NewReceiptServiceClient(w.conn)
}

// source creates a source with the key's tenant and returns its id and
// its tenant's id.
func (w *receiptWorld) source(key, name string) (sourceID, tenantID uuid.UUID) {
	w.t.Helper()
	src, err := w.sources().CreateSource(as(key), newSource(name, secretA))
	if err != nil {
		w.t.Fatal(err)
	}
	row, err := w.db.Client.Source.Get(viewer.System(context.Background()), uuid.MustParse(src.GetId()))
	if err != nil {
		w.t.Fatal(err)
	}
	return row.ID, row.TenantID
}

// publish stores receipts in the stream as a data plane does.
func (w *receiptWorld) publish(rs ...*plugsv1.Receipt) {
	w.t.Helper()
	for _, r := range rs {
		b, err := proto.Marshal(r)
		if err != nil {
			w.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = w.js.Publish(ctx, backbone.ReceiptSubject(r.GetTenantId(), r.GetSourceId()), b)
		cancel()
		if err != nil {
			w.t.Fatal(err)
		}
	}
}

// waitListed polls until a source lists n receipts, and returns them.
func (w *receiptWorld) waitListed(key string, sourceID uuid.UUID, n int) []*plugsv1.Receipt {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := w.receiptSvc().ListReceipts(as(key), &plugsv1.ListReceiptsRequest{SourceId: sourceID.String(), PageSize: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(resp.GetReceipts()) == n {
			return resp.GetReceipts()
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("source %s lists %d receipts, want %d", sourceID, len(resp.GetReceipts()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mkReceipt(tenantID, sourceID uuid.UUID, at time.Time) *plugsv1.Receipt {
	return &plugsv1.Receipt{
		Id:            uuid.Must(uuid.NewV7()).String(),
		TenantId:      tenantID.String(),
		SourceId:      sourceID.String(),
		ReceiveTime:   timestamppb.New(at),
		RemoteAddress: "198.51.100.4:5000",
		Method:        "POST",
		RequestUri:    "/v1/ingest/webhook/" + sourceID.String(),
		Headers: []*plugsv1.ReceiptHeader{
			{Name: "Content-Type", Values: []string{"application/json"}},
			{Name: "Stripe-Signature", Values: []string{"t=1700000000,v1=deadbeef"}},
		},
		Body:       []byte(`{"id":"evt","type":"invoice.paid"}`),
		Outcome:    plugsv1.Receipt_OUTCOME_ACCEPTED,
		EventType:  "invoice.paid",
		Latency:    durationpb.New(3 * time.Millisecond),
		DataPlane:  "dp-test",
		StatusCode: 200,
	}
}

// newestFirst orders receipts as the list does.
func newestFirst(rs []*plugsv1.Receipt) []string {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b *plugsv1.Receipt) int {
		if c := b.GetReceiveTime().AsTime().Compare(a.GetReceiveTime().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(b.GetId(), a.GetId())
	})
	return ids(rs)
}

func ids(rs []*plugsv1.Receipt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.GetId()
	}
	return out
}

// receiptBase is the time the fixtures are received around: a day ago, so
// the receipts retention (30 days) never prunes them while a test runs;
// whole seconds, so it survives storage at microseconds.
var receiptBase = time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)

// fixture publishes twelve receipts of one source, a minute apart except
// for two received at the same instant, with outcomes, causes, event types
// and provider event ids to filter on.
func (w *receiptWorld) fixture(tenantID, sourceID uuid.UUID) []*plugsv1.Receipt {
	var rs []*plugsv1.Receipt
	for i := range 12 {
		at := receiptBase.Add(time.Duration(i) * time.Minute)
		if i == 7 {
			at = rs[6].GetReceiveTime().AsTime() // a tie, broken by id
		}
		r := mkReceipt(tenantID, sourceID, at)
		switch i % 3 {
		case 0:
			r.Outcome, r.Cause, r.Detail, r.StatusCode = plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid", "no signature matched", 401
			r.EventType = ""
		case 1:
			r.ProviderEventId, r.UsageEventId = fmt.Sprintf("evt_%d", i), uuid.NewString()
		case 2:
			r.Outcome, r.EventType, r.ProviderEventId = plugsv1.Receipt_OUTCOME_DUPLICATE, "customer.created", "evt_1"
		}
		rs = append(rs, r)
	}
	w.publish(rs...)
	return rs
}

func TestReceiptsIndexedAndListed(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReceiptsIndexedAndListed(t, d) })
	}
}

func testReceiptsIndexedAndListed(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	src, tenant := w.source(w.keyA, "stripe")
	other, _ := w.source(w.keyA, "other")
	rs := w.fixture(tenant, src)
	w.publish(mkReceipt(tenant, other, receiptBase))

	listed := w.waitListed(w.keyA, src, len(rs))
	if got, want := ids(listed), newestFirst(rs); !slices.Equal(got, want) {
		t.Fatalf("listed\n %v\nwant newest first\n %v", got, want)
	}
	for _, r := range listed {
		if r.GetBody() != nil || r.GetHeaders() != nil {
			t.Fatalf("a list item carries body or headers: %v", r)
		}
		if r.GetSourceId() != src.String() || r.GetTenantId() != tenant.String() || r.GetReceiveTime() == nil || r.GetStatusCode() == 0 {
			t.Fatalf("list item incomplete: %v", r)
		}
	}
	w.waitListed(w.keyA, other, 1)

	// GetReceipt has everything that was published.
	want := rs[0]
	got, err := w.receiptSvc().GetReceipt(as(w.keyA), &plugsv1.GetReceiptRequest{Id: want.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("GetReceipt\n got %v\nwant %v", got, want)
	}

	// REST says the same.
	code, body := w.rest("GET", "/v1/sources/"+src.String()+"/receipts?pageSize=5", w.keyA, "")
	if code != http.StatusOK {
		t.Fatalf("REST list: %d %s", code, body)
	}
	var page struct {
		Receipts []map[string]any `json:"receipts"`
		Next     string           `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Receipts) != 5 || page.Next == "" {
		t.Fatalf("REST page: %s", body)
	}
	for i, r := range page.Receipts {
		if r["id"] != newestFirst(rs)[i] {
			t.Fatalf("REST item %d is %v, want %s", i, r["id"], newestFirst(rs)[i])
		}
		if _, ok := r["body"]; ok {
			t.Fatalf("REST list item has a body: %v", r)
		}
		if _, ok := r["headers"]; ok {
			t.Fatalf("REST list item has headers: %v", r)
		}
	}
	code, body = w.rest("GET", "/v1/sources/"+src.String()+"/receipts?pageSize=5&pageToken="+url.QueryEscape(page.Next), w.keyA, "")
	if code != http.StatusOK {
		t.Fatalf("REST second page: %d %s", code, body)
	}
	page.Receipts, page.Next = nil, ""
	if err := json.Unmarshal(body, &page); err != nil || len(page.Receipts) != 5 || page.Receipts[0]["id"] != newestFirst(rs)[5] {
		t.Fatalf("REST second page: %v %s", err, body)
	}
	code, body = w.rest("GET", "/v1/receipts/"+want.GetId(), w.keyA, "")
	if code != http.StatusOK {
		t.Fatalf("REST get: %d %s", code, body)
	}
	var one struct {
		Body    string `json:"body"`
		Outcome string `json:"outcome"`
		Cause   string `json:"cause"`
		Headers []struct {
			Name   string   `json:"name"`
			Values []string `json:"values"`
		} `json:"headers"`
	}
	if err := json.Unmarshal(body, &one); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(one.Body)
	if string(raw) != string(want.GetBody()) || one.Outcome != "OUTCOME_REJECTED" || one.Cause != "signature_invalid" ||
		len(one.Headers) != 2 || one.Headers[1].Name != "Stripe-Signature" {
		t.Fatalf("REST get: %s", body)
	}
}

func TestReceiptFilters(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReceiptFilters(t, d) })
	}
}

func testReceiptFilters(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	src, tenant := w.source(w.keyA, "stripe")
	rs := w.fixture(tenant, src)
	w.waitListed(w.keyA, src, len(rs))

	where := func(keep func(int, *plugsv1.Receipt) bool) []string {
		var out []*plugsv1.Receipt
		for i, r := range rs {
			if keep(i, r) {
				out = append(out, r)
			}
		}
		return newestFirst(out)
	}
	at := func(i int) *timestamppb.Timestamp { return rs[i].GetReceiveTime() }
	for name, c := range map[string]struct {
		req  *plugsv1.ListReceiptsRequest
		want []string
	}{
		"outcome": {&plugsv1.ListReceiptsRequest{Outcome: plugsv1.Receipt_OUTCOME_DUPLICATE},
			where(func(i int, _ *plugsv1.Receipt) bool { return i%3 == 2 })},
		"outcome with no receipt": {&plugsv1.ListReceiptsRequest{Outcome: plugsv1.Receipt_OUTCOME_HANDSHAKE}, nil},
		"cause": {&plugsv1.ListReceiptsRequest{Cause: "signature_invalid"},
			where(func(i int, _ *plugsv1.Receipt) bool { return i%3 == 0 })},
		"event type": {&plugsv1.ListReceiptsRequest{EventType: "invoice.paid"},
			where(func(i int, _ *plugsv1.Receipt) bool { return i%3 == 1 })},
		"provider event id": {&plugsv1.ListReceiptsRequest{ProviderEventId: "evt_1"},
			where(func(i int, _ *plugsv1.Receipt) bool { return i == 1 || i%3 == 2 })},
		"start time, inclusive": {&plugsv1.ListReceiptsRequest{StartTime: at(9)},
			where(func(i int, _ *plugsv1.Receipt) bool { return i >= 9 })},
		"end time, exclusive": {&plugsv1.ListReceiptsRequest{EndTime: at(3)},
			where(func(i int, _ *plugsv1.Receipt) bool { return i < 3 })},
		"both times, with the tie": {&plugsv1.ListReceiptsRequest{StartTime: at(6), EndTime: at(8)},
			where(func(i int, _ *plugsv1.Receipt) bool { return i == 6 || i == 7 })},
		"combined": {&plugsv1.ListReceiptsRequest{Outcome: plugsv1.Receipt_OUTCOME_DUPLICATE, ProviderEventId: "evt_1", StartTime: at(4)},
			where(func(i int, _ *plugsv1.Receipt) bool { return i%3 == 2 && i >= 4 })},
	} {
		t.Run(name, func(t *testing.T) {
			c.req.SourceId = src.String()
			resp, err := w.receiptSvc().ListReceipts(as(w.keyA), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(resp.GetReceipts()); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			// Filters hold across pages too.
			var paged []string
			c.req.PageSize = 2
			for {
				resp, err := w.receiptSvc().ListReceipts(as(w.keyA), c.req)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, ids(resp.GetReceipts())...)
				if resp.GetNextPageToken() == "" {
					break
				}
				c.req.PageToken = resp.GetNextPageToken()
			}
			if !slices.Equal(paged, c.want) {
				t.Fatalf("paged %v, want %v", paged, c.want)
			}
		})
	}

	// REST takes the filters as query parameters.
	q := url.Values{}
	q.Set("outcome", "OUTCOME_REJECTED")
	q.Set("startTime", at(3).AsTime().Format(time.RFC3339Nano))
	q.Set("endTime", at(9).AsTime().Format(time.RFC3339Nano))
	code, body := w.rest("GET", "/v1/sources/"+src.String()+"/receipts?"+q.Encode(), w.keyA, "")
	var page struct {
		Receipts []struct {
			ID string `json:"id"`
		} `json:"receipts"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &page) != nil {
		t.Fatalf("REST filter: %d %s", code, body)
	}
	want := where(func(i int, _ *plugsv1.Receipt) bool { return i%3 == 0 && i >= 3 && i < 9 })
	var got []string
	for _, r := range page.Receipts {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("REST filter: got %v, want %v", got, want)
	}
}

func TestReceiptPagesStableUnderInserts(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReceiptPagesStableUnderInserts(t, d) })
	}
}

func testReceiptPagesStableUnderInserts(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	src, tenant := w.source(w.keyA, "stripe")
	var before []*plugsv1.Receipt
	for i := range 20 {
		// Pairs received at the same instant, so page boundaries fall
		// inside ties too.
		before = append(before, mkReceipt(tenant, src, receiptBase.Add(time.Duration(i/2)*time.Second)))
	}
	w.publish(before...)
	w.waitListed(w.keyA, src, len(before))

	seen := map[string]int{}
	var order []string
	total := len(before)
	req := &plugsv1.ListReceiptsRequest{SourceId: src.String(), PageSize: 3}
	for page := 0; ; page++ {
		resp, err := w.receiptSvc().ListReceipts(as(w.keyA), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetReceipts() {
			seen[r.GetId()]++
			order = append(order, r.GetId())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
		// Between pages, receipts keep arriving: newer ones, ones as old
		// as those listed (a data plane's backlog), and ties with the
		// page's last receipt.
		last := resp.GetReceipts()[len(resp.GetReceipts())-1].GetReceiveTime().AsTime()
		w.publish(
			mkReceipt(tenant, src, time.Now()),
			mkReceipt(tenant, src, receiptBase.Add(time.Duration(page)*time.Second+time.Millisecond)),
			mkReceipt(tenant, src, last),
		)
		total += 3
		w.waitListed(w.keyA, src, total)
	}
	for _, r := range before {
		if seen[r.GetId()] != 1 {
			t.Fatalf("receipt %s listed %d times across pages", r.GetId(), seen[r.GetId()])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("receipt %s listed %d times", id, n)
		}
	}
	// The original receipts keep their relative order.
	var got []string
	for _, id := range order {
		if slices.ContainsFunc(before, func(r *plugsv1.Receipt) bool { return r.GetId() == id }) {
			got = append(got, id)
		}
	}
	if want := newestFirst(before); !slices.Equal(got, want) {
		t.Fatalf("order across pages\n %v\nwant\n %v", got, want)
	}
}

func TestReceiptTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReceiptTenantIsolation(t, d) })
	}
}

func testReceiptTenantIsolation(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	srcA, tenantA := w.source(w.keyA, "a's")
	srcB, tenantB := w.source(w.keyB, "b's")
	ra := mkReceipt(tenantA, srcA, receiptBase)
	rb := mkReceipt(tenantB, srcB, receiptBase)
	w.publish(ra, rb)
	w.waitListed(w.keyA, srcA, 1)
	w.waitListed(w.keyB, srcB, 1)

	b := as(w.keyB)
	missing := uuid.Must(uuid.NewV7()).String()
	_, errOther := w.receiptSvc().ListReceipts(b, &plugsv1.ListReceiptsRequest{SourceId: srcA.String()})
	_, errMissing := w.receiptSvc().ListReceipts(b, &plugsv1.ListReceiptsRequest{SourceId: missing})
	wantCode(t, errOther, codes.NotFound)
	wantCode(t, errMissing, codes.NotFound)
	if status.Convert(errOther).Message() != status.Convert(errMissing).Message() {
		t.Fatalf("another tenant's source %v vs a missing one %v", errOther, errMissing)
	}
	_, errOther = w.receiptSvc().GetReceipt(b, &plugsv1.GetReceiptRequest{Id: ra.GetId()})
	_, errMissing = w.receiptSvc().GetReceipt(b, &plugsv1.GetReceiptRequest{Id: missing})
	wantCode(t, errOther, codes.NotFound)
	wantCode(t, errMissing, codes.NotFound)
	if status.Convert(errOther).Message() != status.Convert(errMissing).Message() {
		t.Fatalf("another tenant's receipt %v vs a missing one %v", errOther, errMissing)
	}
	if code, body := w.rest("GET", "/v1/sources/"+srcA.String()+"/receipts", w.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST list of another tenant's source: %d %s", code, body)
	}
	if code, body := w.rest("GET", "/v1/receipts/"+ra.GetId(), w.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST get of another tenant's receipt: %d %s", code, body)
	}

	// A receipt filed under a's subject but naming b's source is never
	// indexed, so it shows up in neither tenant's lists.
	forged := mkReceipt(tenantA, srcB, receiptBase.Add(time.Second))
	b2, _ := proto.Marshal(forged)
	if _, err := w.js.Publish(context.Background(), backbone.ReceiptSubject(tenantA.String(), srcA.String()), b2); err != nil {
		t.Fatal(err)
	}
	marker := mkReceipt(tenantB, srcB, receiptBase.Add(2*time.Second))
	w.publish(marker)
	for _, r := range w.waitListed(w.keyB, srcB, 2) {
		if r.GetId() == forged.GetId() {
			t.Fatal("a forged receipt was indexed")
		}
	}
	if got := ids(w.waitListed(w.keyA, srcA, 1)); got[0] != ra.GetId() {
		t.Fatalf("a lists %v", got)
	}
	// Each tenant sees its own receipt.
	if _, err := w.receiptSvc().GetReceipt(as(w.keyA), &plugsv1.GetReceiptRequest{Id: ra.GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.receiptSvc().GetReceipt(b, &plugsv1.GetReceiptRequest{Id: rb.GetId()}); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptPublishedTwiceIsListedOnce(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.source(w.keyA, "stripe")
	r := mkReceipt(tenant, src, receiptBase)
	w.publish(r, r)
	w.waitListed(w.keyA, src, 1)
	marker := mkReceipt(tenant, src, receiptBase.Add(time.Second))
	w.publish(r, marker)
	// The marker was published after the second copy; once it is listed
	// the copy has been indexed (or found already there).
	got := w.waitListed(w.keyA, src, 2)
	if !slices.Equal(ids(got), []string{marker.GetId(), r.GetId()}) {
		t.Fatalf("listed %v", ids(got))
	}
}

func TestReceiptValidation(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.source(w.keyA, "stripe")
	other, _ := w.source(w.keyA, "other")
	w.publish(mkReceipt(tenant, src, receiptBase), mkReceipt(tenant, src, receiptBase.Add(time.Second)))
	w.waitListed(w.keyA, src, 2)
	resp, err := w.receiptSvc().ListReceipts(as(w.keyA), &plugsv1.ListReceiptsRequest{SourceId: src.String(), PageSize: 1})
	if err != nil || resp.GetNextPageToken() == "" {
		t.Fatalf("%v %v", resp, err)
	}
	tok := resp.GetNextPageToken()
	long := strings.Repeat("x", 1025)
	for name, c := range map[string]struct {
		req   *plugsv1.ListReceiptsRequest
		field string
	}{
		"no source":             {&plugsv1.ListReceiptsRequest{}, "source_id"},
		"source not a uuid":     {&plugsv1.ListReceiptsRequest{SourceId: "stripe"}, "source_id"},
		"negative page size":    {&plugsv1.ListReceiptsRequest{SourceId: src.String(), PageSize: -1}, "page_size"},
		"garbage token":         {&plugsv1.ListReceiptsRequest{SourceId: src.String(), PageToken: "garbage"}, "page_token"},
		"another source's page": {&plugsv1.ListReceiptsRequest{SourceId: other.String(), PageToken: tok}, "page_token"},
		"unknown outcome":       {&plugsv1.ListReceiptsRequest{SourceId: src.String(), Outcome: 99}, "outcome"},
		"long cause":            {&plugsv1.ListReceiptsRequest{SourceId: src.String(), Cause: long}, "cause"},
		"long event type":       {&plugsv1.ListReceiptsRequest{SourceId: src.String(), EventType: long}, "event_type"},
		"long event id":         {&plugsv1.ListReceiptsRequest{SourceId: src.String(), ProviderEventId: long}, "provider_event_id"},
		"invalid start":         {&plugsv1.ListReceiptsRequest{SourceId: src.String(), StartTime: &timestamppb.Timestamp{Nanos: -1}}, "start_time"},
		"invalid end":           {&plugsv1.ListReceiptsRequest{SourceId: src.String(), EndTime: &timestamppb.Timestamp{Seconds: -1 << 40}}, "end_time"},
		"end before start": {&plugsv1.ListReceiptsRequest{SourceId: src.String(),
			StartTime: timestamppb.New(receiptBase), EndTime: timestamppb.New(receiptBase.Add(-time.Second))}, "end_time"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.receiptSvc().ListReceipts(as(w.keyA), c.req)
			if v := fieldViolations(t, err); v[c.field] == "" {
				t.Fatalf("no violation of %s in %v", c.field, v)
			}
		})
	}
	_, err = w.receiptSvc().GetReceipt(as(w.keyA), &plugsv1.GetReceiptRequest{Id: "nope"})
	if v := fieldViolations(t, err); v["id"] == "" {
		t.Fatalf("no violation of id in %v", v)
	}
	if code, body := w.rest("GET", "/v1/sources/"+src.String()+"/receipts?pageSize=-1", w.keyA, ""); code != http.StatusBadRequest {
		t.Fatalf("REST invalid page size: %d %s", code, body)
	}
	_, err = w.receiptSvc().ListReceipts(as(""), &plugsv1.ListReceiptsRequest{SourceId: src.String()})
	wantCode(t, err, codes.Unauthenticated)
}
