package metrics_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/metrics/metricstest"
)

type dropped int64

func (d dropped) Dropped() int64 { return int64(d) }

// Published and Messages are what a spool that dropped d published: ten
// records per dropped one, in half as many messages.
func (d dropped) Published() int64 { return 10 * int64(d) }
func (d dropped) Messages() int64  { return 5 * int64(d) }

// Forward attempts, configuration updates, spool drops and the dead-letter
// backlog (read from a real JetStream) show in the data plane's series.
func TestDataPlaneSeries(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewDataPlane(reg)
	m.WatchSpools(reg, map[string]metrics.Spool{"receipts": dropped(3), "unverified_receipts": dropped(5), "attempts": dropped(0)})
	m.Attempt(forward.Attempt{Outcome: forward.Delivered, StatusCode: 204, Latency: time.Millisecond})
	m.Attempt(forward.Attempt{Outcome: forward.Retrying, StatusCode: 503, Latency: time.Millisecond})
	m.Attempt(forward.Attempt{Outcome: forward.Retrying})
	m.Attempt(forward.Attempt{Outcome: forward.DeadLettered, StatusCode: 400})
	m.ConfigApplied("41", true)
	m.ConfigApplied("42", false)
	m.StreamReconnect()
	m.Circuit("d-down", forward.CircuitClosed)
	m.Circuit("d-down", forward.CircuitOpen)
	m.Circuit("d-ok", forward.CircuitClosed)
	m.Circuit("d-gone", forward.CircuitOpen)
	m.Circuit("d-gone", forward.CircuitStopped)

	embd, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(embd.Shutdown)
	ctx := context.Background()
	nc, err := backbone.Connect(ctx, backbone.Options{URL: embd.URL(), Name: "metrics test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		msg := nats.NewMsg(backbone.DeadSubject("0192d1a0-0000-7000-8000-000000000001"))
		msg.Data = []byte("x")
		if _, err := nc.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	pollCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.PollBacklog(pollCtx, nc.JS, 20*time.Millisecond, slog.Default())

	page := httptest.NewServer(metrics.Handler(reg))
	defer page.Close()
	deadline := time.Now().Add(10 * time.Second)
	for metricstest.Scrape(t, page.URL)["plugs_dead_letters"].Sum(nil) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("dead-letter gauge never showed the 2 dead letters")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fams := metricstest.Scrape(t, page.URL)
	att := fams["plugs_forward_attempts_total"]
	for _, c := range []struct {
		outcome, class string
		want           float64
	}{{"delivered", "2xx", 1}, {"retrying", "5xx", 1}, {"retrying", "none", 1}, {"dead_lettered", "4xx", 1}} {
		if got := att.Sum(map[string]string{"outcome": c.outcome, "status_class": c.class}); got != c.want {
			t.Errorf("attempts %s/%s = %v, want %v", c.outcome, c.class, got, c.want)
		}
	}
	if got := fams["plugs_forward_attempt_duration_seconds"].Sum(nil); got != 2 {
		t.Errorf("attempt latencies %v, want 2", got)
	}
	if got := fams["plugs_config_version"].Sum(nil); got != 41 {
		t.Errorf("config version %v, want 41 (42 was rejected)", got)
	}
	if got := fams["plugs_config_updates_total"].Sum(map[string]string{"result": "rejected"}); got != 1 {
		t.Errorf("rejected updates %v", got)
	}
	if got := fams["plugs_config_stream_reconnects_total"].Sum(nil); got != 1 {
		t.Errorf("reconnects %v", got)
	}
	circuit := fams["plugs_forward_circuit_state"]
	if got := circuit.Sum(map[string]string{"destination": "d-down"}); got != 2 {
		t.Errorf("circuit of a destination that is down: %v, want 2 (open)", got)
	}
	if got := circuit.Sum(map[string]string{"destination": "d-ok"}); got != 0 {
		t.Errorf("closed circuit: %v", got)
	}
	if got := circuit.Sum(nil); got != 2 {
		t.Errorf("circuits sum to %v: a stopped destination's series stayed", got)
	}
	if got := fams["plugs_forward_circuit_opens_total"].Sum(nil); got != 2 {
		t.Errorf("circuit opens %v, want 2", got)
	}
	if got := fams["plugs_spool_dropped_total"].Sum(map[string]string{"spool": "receipts"}); got != 3 {
		t.Errorf("receipts dropped %v", got)
	}
	if got := fams["plugs_spool_published_total"].Sum(map[string]string{"spool": "receipts"}); got != 30 {
		t.Errorf("receipts published %v", got)
	}
	if got := fams["plugs_spool_messages_total"].Sum(map[string]string{"spool": "receipts"}); got != 15 {
		t.Errorf("receipt messages %v", got)
	}
	if got := fams["plugs_spool_dropped_total"].Sum(map[string]string{"spool": "unverified_receipts"}); got != 5 {
		t.Errorf("unverified receipts dropped %v", got)
	}
}
