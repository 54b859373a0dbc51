package backbone_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// BenchmarkStore measures storing a 1 KB usage event with dedup, in each
// durability mode of the embedded server, from 16 concurrent writers (a
// data plane serves many webhooks at once).
func BenchmarkStore(b *testing.B) {
	for _, mode := range []struct {
		name string
		d    backbone.Durability
	}{{"default", backbone.DurabilityDefault}, {"fsync", backbone.DurabilityFsync}} {
		b.Run(mode.name, func(b *testing.B) {
			srv, err := backbone.StartEmbeddedWith(b.TempDir(), "127.0.0.1", -1, mode.d, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown()
			conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL(), Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
				b.Fatal(err)
			}
			store := &backbone.EventStore{JS: conn.JS}
			props := map[string]string{"payload": strings.Repeat("x", 900)}
			var n atomic.Int64
			b.SetParallelism(8) // 16 writers on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					ev := &plugsv1.UsageEvent{Id: fmt.Sprint(i), SourceId: "src", TenantId: "t", EventId: fmt.Sprint("evt_", i),
						EventType: "invoice.paid", Quantity: "1", Properties: props}
					if dup, err := store.Enqueue(context.Background(), ev); err != nil || dup {
						b.Fatal(dup, err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
