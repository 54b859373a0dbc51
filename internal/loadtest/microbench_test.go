package loadtest

import (
	"strings"
	"testing"
)

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/plugshq/plugs/dataplane/pipeline
cpu: AMD EPYC
BenchmarkVerifyFilterMap-2   	  214383	      5511 ns/op	 389.41 MB/s	     152 B/op	       5 allocs/op
BenchmarkHandle-2            	  153000	      7800 ns/op	    3041 B/op	      13 allocs/op
PASS
ok  	github.com/plugshq/plugs/dataplane/pipeline	5.210s
pkg: github.com/plugshq/plugs/backbone
BenchmarkStore
BenchmarkStore/fsync-2         	    4000	    253373 ns/op	      3955 events/s	    5120 B/op	      71 allocs/op
pkg: github.com/plugshq/plugs/controlplane/config
BenchmarkPropagation-2   	      50	         0 ns/op	       433.0 B/plane/update	        31.60 p50-ms	        48.30 p99-ms	        19.20 update-call-p50-ms
`

func TestParseMicro(t *testing.T) {
	ms, err := ParseMicro(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("parsed %d benchmarks, want 4: %+v", len(ms), ms)
	}
	vfm := FindMicro(ms, "VerifyFilterMap")
	if vfm == nil || vfm.Pkg != "github.com/plugshq/plugs/dataplane/pipeline" || vfm.N != 214383 {
		t.Fatalf("VerifyFilterMap: %+v", vfm)
	}
	if ns, _ := vfm.Metric("ns/op"); ns != 5511 {
		t.Errorf("ns/op = %v", ns)
	}
	if a, ok := vfm.Metric("allocs/op"); !ok || a != 5 {
		t.Errorf("allocs/op = %v %v", a, ok)
	}
	store := FindMicro(ms, "Store/fsync")
	if store == nil || store.Pkg != "github.com/plugshq/plugs/backbone" {
		t.Fatalf("Store/fsync: %+v", store)
	}
	if v, _ := store.Metric("events/s"); v != 3955 {
		t.Errorf("events/s = %v", v)
	}
	prop := FindMicro(ms, "Propagation")
	if v, _ := prop.Metric("p99-ms"); v != 48.3 {
		t.Errorf("p99-ms = %v", v)
	}
	if _, ok := prop.Metric("MB/s"); ok {
		t.Error("a metric the benchmark did not report was found")
	}
}
