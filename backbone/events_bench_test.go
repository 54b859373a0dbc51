package backbone_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// BenchmarkStore measures storing a 1 KB usage event with dedup, in each
// durability mode of the embedded server, from 16 or 128 concurrent writers
// (a data plane serves many webhooks at once); with fsync, also by group
// commit.
func BenchmarkStore(b *testing.B) {
	for _, mode := range []struct {
		name    string
		d       backbone.Durability
		group   bool
		writers int
	}{
		{"default", backbone.DurabilityDefault, false, 16},
		{"fsync", backbone.DurabilityFsync, false, 16},
		{"fsync-group-commit", backbone.DurabilityFsync, true, 16},
		{"fsync-128-writers", backbone.DurabilityFsync, false, 128},
		{"fsync-group-commit-128-writers", backbone.DurabilityFsync, true, 128},
	} {
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
			if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{GroupCommit: mode.group}); err != nil {
				b.Fatal(err)
			}
			store := &backbone.EventStore{JS: conn.JS, GroupCommit: mode.group}
			props := map[string]string{"payload": strings.Repeat("x", 900)}
			var n atomic.Int64
			b.SetParallelism(mode.writers / runtime.GOMAXPROCS(0))
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
