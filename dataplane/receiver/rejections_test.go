package receiver_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/metrics/metricstest"
	"github.com/plugshq/plugs/internal/ratelimit"
)

// Anyone who knows a source's id can send it unsigned megabytes. Each such
// request costs a receipt of at most a few kilobytes, and only within the
// source's budget for rejected requests: past it the answer is 429 with
// Retry-After, no receipt is kept and none is named, and a metric counts
// the request with the cause it was rejected for. The source's signed
// webhooks are unaffected, their receipts recorded in full, and the buffer
// kept for them is not the one the flood fills.
func TestRejectedFloodCostsLittle(t *testing.T) {
	now := time.Now()
	sc := sourceFrom(t, stripeID, "stripe", secret)
	sc.MaxBodyBytes = 2 << 20
	reg := metrics.NewRegistry()
	const burst = 5
	// Never run: what is recorded stays in the buffers, which hold 10
	// receipts of each kind.
	rec := receipts.New(nil, 10, slog.New(slog.DiscardHandler))
	kept := &receiptLog{}
	f := serve(t, []*plugsv1.SourceConfig{sc, sourceFrom(t, githubID, "github", secret)}, nil,
		pipeline.Options{Observer: metrics.NewDataPlane(reg), Rejections: ratelimit.NewBudget(1, burst, 0)},
		receiver.Options{Now: func() time.Time { return now }, Receipts: recordBoth{rec, kept}})
	sink := f.sink

	forged := strings.Repeat("x", 1<<20)
	for i := range 30 {
		status, body, h := f.post(t, stripeID, http.Header{"Stripe-Signature": {"t=1,v1=00"}}, forged)
		switch {
		case i < burst && (status != 401 || h.Get(receiver.ReceiptIDHeader) == ""):
			t.Fatalf("forged request %d within the budget: %d %v, receipt %q", i+1, status, body, h.Get(receiver.ReceiptIDHeader))
		case i >= burst && (status != 429 || body["cause"] != "too_many_rejections" || h.Get("Retry-After") != "1" ||
			h.Get(receiver.ReceiptIDHeader) != ""):
			t.Fatalf("forged request %d past the budget: %d %v, Retry-After %q, receipt %q",
				i+1, status, body, h.Get("Retry-After"), h.Get(receiver.ReceiptIDHeader))
		}
		if i == 20 {
			// A signed webhook in the middle of the flood.
			status, body, h := f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice)
			if status != 200 || h.Get(receiver.ReceiptIDHeader) == "" {
				t.Fatalf("signed webhook during the flood: %d %v, receipt %q", status, body, h.Get(receiver.ReceiptIDHeader))
			}
		}
	}
	// Another source has its own budget.
	if status, _, _ := f.post(t, githubID, nil, "{}"); status != 401 {
		t.Fatalf("another source's rejected request: %d", status)
	}

	var forgedReceipts, bytes int
	for _, r := range kept.all {
		if r.GetSourceId() != stripeID || r.GetOutcome() != plugsv1.Receipt_OUTCOME_REJECTED {
			continue
		}
		forgedReceipts++
		bytes += len(r.GetBody())
		if !r.GetUnverified() || !r.GetBodyTruncated() || r.GetBodySize() != 1<<20 || len(r.GetBodySha256()) != 64 {
			t.Fatalf("receipt of a forged request: unverified %v, truncated %v, size %d, sha256 %q",
				r.GetUnverified(), r.GetBodyTruncated(), r.GetBodySize(), r.GetBodySha256())
		}
	}
	if forgedReceipts != burst || bytes > burst*receipts.MaxUnverifiedBody {
		t.Fatalf("%d receipts holding %d body bytes for the forged requests; want %d of at most %d bytes each",
			forgedReceipts, bytes, burst, receipts.MaxUnverifiedBody)
	}
	if rec.Dropped() != 0 {
		t.Fatalf("%d receipts dropped", rec.Dropped())
	}
	if sink.count() != 1 {
		t.Fatalf("%d events stored, want the signed one", sink.count())
	}

	page := httptest.NewServer(metrics.Handler(reg))
	defer page.Close()
	fams := metricstest.Scrape(t, page.URL)
	if got := fams["plugs_ingest_rejections_unrecorded_total"].Sum(map[string]string{"source": stripeID, "cause": "signature_invalid"}); got != 30-burst {
		t.Errorf("unrecorded rejections %v, want %d", got, 30-burst)
	}
	if got := fams["plugs_ingest_requests_total"].Sum(map[string]string{"source": stripeID, "cause": "too_many_rejections"}); got != 30-burst {
		t.Errorf("requests answered too_many_rejections %v, want %d", got, 30-burst)
	}
}

// recordBoth records in a Recorder, and keeps what it kept for the test.
type recordBoth struct {
	rec *receipts.Recorder
	log *receiptLog
}

func (b recordBoth) Record(r *plugsv1.Receipt) bool {
	if !b.rec.Record(r) {
		return false
	}
	return b.log.Record(r)
}

// A receipt id is sent only for a receipt the data plane kept: with its
// buffer full, the answer names none.
func TestReceiptIDOnlyWhenKept(t *testing.T) {
	now := time.Now()
	rec := receipts.New(nil, 1, slog.New(slog.DiscardHandler)) // room for one receipt of each kind, never published
	f := startWith(t, false, now, rec)
	for i, want := range []bool{true, false} {
		body := strings.Replace(invoice, "evt_1", "evt_"+string(rune('a'+i)), 1)
		status, _, h := f.post(t, stripeID, stripeSigned(t, body, now, secret), body)
		if status != 200 || (h.Get(receiver.ReceiptIDHeader) != "") != want {
			t.Fatalf("webhook %d: %d, receipt id %q; want one: %v", i+1, status, h.Get(receiver.ReceiptIDHeader), want)
		}
	}
}

// A body declared over the source's limit is not read at all: its receipt
// keeps the length the sender declared.
func TestTooLargeReceiptKeepsDeclaredSize(t *testing.T) {
	kept := &receiptLog{}
	f := startWith(t, false, time.Now(), kept)
	body := strings.Repeat("x", 5000) // the source's limit is 4096
	if status, _, _ := f.post(t, stripeID, nil, body); status != 413 {
		t.Fatalf("status %d, want 413", status)
	}
	r := kept.all[len(kept.all)-1]
	if r.GetBodySize() != 5000 || !r.GetBodyTruncated() || len(r.GetBody()) != 0 || r.GetBodySha256() != "" || !r.GetUnverified() {
		t.Fatalf("receipt: size %d, truncated %v, %d bytes kept, sha256 %q, unverified %v",
			r.GetBodySize(), r.GetBodyTruncated(), len(r.GetBody()), r.GetBodySha256(), r.GetUnverified())
	}
}
