package loadtest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// bareTarget runs the bare handler in this process: a tiny phase against
// it exercises signing, the client, the runner and the histogram without
// starting Plugs.
func bareTarget(t *testing.T, secret string) *Webhooks {
	t.Helper()
	srv, err := Serve(BareHandler(secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hooks, err := NewWebhooks("smoke", Endpoint{URL: srv.URL + "/v1/ingest/webhook/bare", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return hooks
}

func TestSmokeClosedLoop(t *testing.T) {
	hooks := bareTarget(t, "whsec_smoke_0123456789abcdef")
	ledger := NewLedger()
	r := Run(context.Background(), NewClient(2), hooks, ledger, Phase{Name: "closed", Workers: 2, Duration: 200 * time.Millisecond})
	if r.Sent == 0 || r.OK != r.Sent || len(r.Errors()) != 0 {
		t.Fatalf("sent %d, ok %d, errors %v: the bare handler must accept every signed request", r.Sent, r.OK, r.Errors())
	}
	if r.Latency.Count() != uint64(r.Sent) || r.Latency.Quantile(0.5) <= 0 || r.Throughput() <= 0 {
		t.Fatalf("latency count %d for %d sent; p50 %v; %.0f/s", r.Latency.Count(), r.Sent, r.Latency.Quantile(0.5), r.Throughput())
	}
	// Nothing is forwarded by the bare handler: every accepted event is
	// lost as far as the ledger can tell, none duplicated.
	if tally := ledger.Tally("closed"); tally.Accepted != int(r.OK) || tally.Lost != tally.Accepted || tally.Duplicated != 0 {
		t.Fatalf("tally %+v for %d accepted", tally, r.OK)
	}
}

func TestSmokeOpenLoop(t *testing.T) {
	hooks := bareTarget(t, "whsec_smoke_0123456789abcdef")
	start := time.Now()
	r := Run(context.Background(), NewClient(4), hooks, nil, Phase{Name: "open", Workers: 4, Duration: 300 * time.Millisecond, Rate: 100})
	// The schedule holds 30 requests; all are sent, none early.
	if r.Sent != 30 || r.OK != 30 || r.Unsent != 0 {
		t.Fatalf("sent %d, ok %d, unsent %d; want 30 sent and accepted", r.Sent, r.OK, r.Unsent)
	}
	if took := time.Since(start); took < 290*time.Millisecond {
		t.Fatalf("30 requests at 100/s took %v: sent ahead of schedule", took)
	}
}

func TestBareHandlerRefusesForgeries(t *testing.T) {
	hooks := bareTarget(t, "whsec_smoke_0123456789abcdef")
	wrong, err := NewWebhooks("smoke", Endpoint{URL: hooks.Endpoints[0].URL, Secret: "whsec_another_secret_0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	r := Run(context.Background(), NewClient(1), wrong, nil, Phase{Name: "forged", Workers: 1, Duration: 50 * time.Millisecond})
	if r.Sent == 0 || r.OK != 0 || r.Status[http.StatusUnauthorized] != r.Sent {
		t.Fatalf("forged requests: %v", r.Status)
	}
}

func TestWebhookBody(t *testing.T) {
	body := invoicePaid("evt_x_max_1", 1, time.Unix(1700000000, 0))
	if n := len(body); n < 1900 || n > 2300 {
		t.Fatalf("body is %d bytes; the load is meant to be ~2 KB webhooks", n)
	}
	hooks, err := NewWebhooks("r", Endpoint{URL: "http://x/v1/ingest/webhook/s", Secret: "whsec_0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := hooks.EventID("max", 1), hooks.EventID("max", 2); a == b || a != "evt_r_max_1" {
		t.Fatalf("event ids %q %q", a, b)
	}
}
