package config_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// simulated is a data plane reduced to its protocol: it reads each
// response, takes its version and ACKs at once, remembering when it
// acknowledged which version and how many bytes the last response was.
type simulated struct {
	mu      sync.Mutex
	acked   map[int64]time.Time
	lastLen int
	version atomic.Int64
}

func runSimulated(ctx context.Context, b *testing.B, addr, id string) *simulated {
	s := &simulated{acked: map[int64]time.Time{}}
	s.version.Store(-1)
	conn := dial(b, addr)
	st, err := plugsv1.NewConfigDiscoveryServiceClient(conn).StreamConfig(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+dpToken))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Send(&plugsv1.StreamConfigRequest{Node: &plugsv1.Node{Id: id}}); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			resp, err := st.Recv()
			if err != nil {
				return
			}
			now := time.Now()
			rev := config.ParseVersion(resp.GetVersionInfo())
			s.mu.Lock()
			s.acked[rev] = now
			s.lastLen = 5 + proto.Size(resp)
			s.mu.Unlock()
			s.version.Store(rev)
			if err := st.Send(&plugsv1.StreamConfigRequest{ResponseNonce: resp.GetNonce(), VersionInfo: resp.GetVersionInfo()}); err != nil {
				return
			}
		}
	}()
	return s
}

// BenchmarkPropagation measures how long a one-source change takes to be
// acknowledged by every one of 100 data planes connected to a control plane
// holding 10,000 sources, and how many bytes each data plane receives for
// it. Run it with a fixed count: -bench Propagation -benchtime 50x.
func BenchmarkPropagation(b *testing.B) {
	const nSources, nPlanes = 10_000, 100
	cp := startControlPlane(b, storetest.Open(b, "sqlite"), newKeyring(b), "127.0.0.1:0")
	api, actx := apiClient(b, cp, "tenant")

	ids := make([]string, nSources)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= nSources {
					return
				}
				tpl := []string{"stripe", "github", "shopify", "svix", "slack"}[i%5]
				src, err := api.CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
					DisplayName: fmt.Sprintf("source %d", i), TemplateId: tpl, MetricId: "api_calls", Secret: whsec(int(i)),
					EventFilter: &plugsv1.EventFilter{EventTypes: []string{"invoice.*", "customer.subscription.*"}},
				}})
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = src.GetId()
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	waitFor(b, "cache at the last revision", func() bool { return cp.srv.Cache.Revision() >= int64(2*nSources) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	planes := make([]*simulated, nPlanes)
	for i := range planes {
		planes[i] = runSimulated(ctx, b, cp.srv.GRPCAddr, fmt.Sprintf("sim-%03d", i))
	}
	rev := cp.srv.Cache.Revision()
	waitFor(b, "every data plane holding the full configuration", func() bool {
		for _, p := range planes {
			if p.version.Load() < rev {
				return false
			}
		}
		return true
	})

	var latencies, apiTimes []time.Duration
	var bytes []int
	n := 0
	b.ResetTimer()
	for b.Loop() {
		n++
		start := time.Now()
		src, err := api.UpdateSource(actx, &plugsv1.UpdateSourceRequest{
			Source:     &plugsv1.Source{Id: ids[n%nSources], DisplayName: fmt.Sprintf("renamed %d", n)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		apiTimes = append(apiTimes, time.Since(start))
		want := src.GetRevision()
		var last time.Time
		for _, p := range planes {
			for p.version.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			p.mu.Lock()
			at := p.acked[want]
			if at.IsZero() { // it skipped to a later version
				at = time.Now()
			}
			if at.After(last) {
				last = at
			}
			bytes = append(bytes, p.lastLen)
			p.mu.Unlock()
		}
		latencies = append(latencies, last.Sub(start))
	}
	b.StopTimer()
	slices.Sort(latencies)
	slices.Sort(apiTimes)
	pct := func(q float64) time.Duration { return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))] }
	sum := 0
	for _, x := range bytes {
		sum += x
	}
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(sum)/float64(len(bytes)), "B/plane/update")
	// The update call itself (validation and the database transaction),
	// part of every latency above.
	b.ReportMetric(float64(apiTimes[len(apiTimes)/2].Microseconds())/1000, "update-call-p50-ms")
	b.ReportMetric(0, "ns/op")
}
