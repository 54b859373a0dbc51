package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	// Each bucket starts right after the previous one ends, up to the
	// largest int64.
	for i := 1; i < histBuckets; i++ {
		lo := bucketHigh(i-1) + 1
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(bucketHigh(i)); got != i {
			t.Fatalf("bucketOf(high %d) = %d, want %d", bucketHigh(i), got, i)
		}
	}
	if got := bucketOf(math.MaxInt64); got != histBuckets-1 {
		t.Fatalf("bucketOf(MaxInt64) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestQuantilesWithinPrecision(t *testing.T) {
	// 100,000 samples spread over five orders of magnitude, compared with
	// the exact percentiles of the sorted samples.
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]time.Duration, 100_000)
	for i := range samples {
		samples[i] = time.Duration(math.Exp(r.Float64()*math.Log(1e5))) * time.Microsecond
		h.Record(samples[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0, 0.5, 0.95, 0.99, 0.999, 1} {
		want := samples[max(int(math.Ceil(q*float64(len(samples))))-1, 0)]
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/sub+1 {
			t.Errorf("p%v = %v, want %v (within %.1f%%, never below)", q*100, got, want, 100.0/sub)
		}
	}
	if h.Count() != uint64(len(samples)) || h.Min() != samples[0] || h.Max() != samples[len(samples)-1] {
		t.Errorf("count %d min %v max %v, want %d %v %v", h.Count(), h.Min(), h.Max(), len(samples), samples[0], samples[len(samples)-1])
	}
}

func TestQuantileSmallCounts(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram answers 0")
	}
	for _, ms := range []int{1, 2, 3, 4, 100} {
		h.Record(time.Duration(ms) * time.Millisecond)
	}
	// Four of five samples are at most 4 ms; the fifth is the outlier
	// every percentile above 80 must show.
	if p := h.Quantile(0.8); p < 4*time.Millisecond || p > 4*time.Millisecond+4*time.Millisecond/sub {
		t.Errorf("p80 = %v, want 4ms", p)
	}
	if p := h.Quantile(0.81); p != 100*time.Millisecond {
		t.Errorf("p81 = %v, want the 100ms maximum", p)
	}
	if m := h.Mean(); m != 22*time.Millisecond {
		t.Errorf("mean = %v, want 22ms", m)
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	for _, q := range []float64{0.01, 0.5, 0.99} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged p%v = %v, want %v", q*100, m.Quantile(q), all.Quantile(q))
		}
	}
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Error("merged summary differs from recording everything in one histogram")
	}
}
