package receiver_test

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/metrics/metricstest"
	"github.com/plugshq/plugs/internal/ratelimit"
)

// A source over its rate is answered 429 with Retry-After and a receipt,
// nothing of it stored; another source is not affected; the data plane's
// series count every request by outcome and cause.
func TestRateLimitAndMetrics(t *testing.T) {
	now := time.Now()
	limited := sourceFrom(t, stripeID, "stripe", secret)
	limited.RateLimit = &plugsv1.RateLimit{RequestsPerSecond: 0.5, Burst: 2}
	reg := metrics.NewRegistry()
	receipts := &receiptLog{}
	f := serve(t, []*plugsv1.SourceConfig{limited, sourceFrom(t, githubID, "github", secret)}, nil,
		pipeline.Options{Limits: ratelimit.New(0, 0), Observer: metrics.NewDataPlane(reg)},
		receiver.Options{Receipts: receipts, NodeID: "dp-test"})

	for i := range 2 {
		if status, body, _ := f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice); status != 200 {
			t.Fatalf("request %d within the burst: %d %v", i+1, status, body)
		}
	}
	status, body, h := f.post(t, stripeID, stripeSigned(t, invoice, now, secret), invoice)
	if status != 429 || body["cause"] != "rate_limited" {
		t.Fatalf("past the limit: %d %v", status, body)
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 || n > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 s at 0.5 requests/s", h.Get("Retry-After"))
	}
	if f.sink.count() != 2 {
		t.Fatalf("%d events stored, want the 2 within the limit", f.sink.count())
	}
	last := receipts.all[len(receipts.all)-1]
	if last.GetCause() != "rate_limited" || last.GetStatusCode() != 429 || last.GetOutcome() != plugsv1.Receipt_OUTCOME_REJECTED {
		t.Fatalf("receipt of the refused request: %v %v %v", last.GetOutcome(), last.GetCause(), last.GetStatusCode())
	}
	if status, _, _ := f.post(t, "0192d1a0-0000-7000-8000-0000000000ff", nil, "{}"); status != 404 {
		t.Fatalf("unknown source: %d", status)
	}

	page := httptest.NewServer(metrics.Handler(reg))
	defer page.Close()
	fams := metricstest.Scrape(t, page.URL)
	req := fams["plugs_ingest_requests_total"]
	for _, c := range []struct {
		outcome, cause string
		want           float64
	}{{"accepted", "", 2}, {"rejected", "rate_limited", 1}} {
		if got := req.Sum(map[string]string{"source": stripeID, "outcome": c.outcome, "cause": c.cause}); got != c.want {
			t.Errorf("requests %s/%s: %v, want %v", c.outcome, c.cause, got, c.want)
		}
	}
	if got := fams["plugs_ingest_unknown_source_total"].Sum(nil); got != 1 {
		t.Errorf("unknown-source requests %v, want 1", got)
	}
	if got := fams["plugs_ingest_request_duration_seconds"].Sum(nil); got != 3 {
		t.Errorf("request latencies observed %v, want 3", got)
	}
	for _, step := range []string{"verify", "map", "store"} {
		if got := fams["plugs_ingest_step_duration_seconds"].Sum(map[string]string{"step": step}); got != 2 {
			t.Errorf("%s latencies observed %v, want 2", step, got)
		}
	}
}
