package forward_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// BenchmarkOutageRecovery queues 1,500 events for a destination with the
// default retry policy and concurrency that answers 503 for
// PLUGS_BENCH_OUTAGE (default 60 s), then 200. It reports the requests
// the destination got per second while down and how long the backlog
// took to be delivered once it was back. Run it once:
//
//	PLUGS_BENCH_OUTAGE=60s go test -run '^$' -bench OutageRecovery -benchtime 1x ./dataplane/forward/
func BenchmarkOutageRecovery(b *testing.B) {
	const events = 1500
	outage := time.Minute
	if v := os.Getenv("PLUGS_BENCH_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		outage = d
	}
	for range b.N {
		ctx := context.Background()
		srv, err := backbone.StartEmbedded(b.TempDir(), "127.0.0.1", -1, nil)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := backbone.Connect(ctx, backbone.Options{URL: srv.URL(), Name: b.Name()})
		if err != nil {
			b.Fatal(err)
		}
		if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{}); err != nil {
			b.Fatal(err)
		}
		var down atomic.Bool
		var requests, delivered atomic.Int64
		down.Store(true)
		dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			requests.Add(1)
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			delivered.Add(1)
		}))
		guard, _ := egress.NewGuard([]string{"127.0.0.0/8"})
		ds := &dests{}
		ds.add(&plugsv1.DestinationConfig{
			Id: "d1", TenantId: "t1", Url: dest.URL, SharedKey: []byte("k"),
			SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS, Status: plugsv1.Destination_STATUS_ACTIVE,
		})
		store := &backbone.EventStore{JS: conn.JS}
		for i := range events {
			id := fmt.Sprintf("evt-%d", i)
			ev := &plugsv1.UsageEvent{Id: "u-" + id, TenantId: "t1", SourceId: "s1", EventId: id, Quantity: "1", ReceiveTime: timestamppb.Now()}
			if _, err := store.Enqueue(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		f := forward.New(conn.JS, ds, forward.Options{Guard: guard})
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()

		time.Sleep(outage) // the outage itself, not a wait for a result
		whileDown := requests.Load()
		down.Store(false)
		back := time.Now()
		for delivered.Load() < events {
			time.Sleep(10 * time.Millisecond)
		}
		drain := time.Since(back)
		b.ReportMetric(float64(whileDown)/outage.Seconds(), "requests/s-down")
		b.ReportMetric(float64(whileDown), "requests-down")
		b.ReportMetric(drain.Seconds(), "s-to-drain")

		f.Stop()
		<-done
		dest.Close()
		conn.Close()
		srv.Shutdown()
	}
}
