package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets, in the manner of HDR
// histograms: every power of two is split into 128 equal buckets, so any
// recorded value is known within 1/128 (0.8 %) at a fixed memory cost
// (58 KiB), whatever the number of samples. Keeping every sample would cost
// 8 bytes per request and a sort; at tens of thousands of requests per
// second for minutes that adds up, and the precision is not needed.
//
// A Histogram is not safe for concurrent use: give each worker its own and
// Merge them.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64 // nanoseconds, for the mean
	min, max int64
}

const (
	// subBits is log2 of the buckets per power of two.
	subBits = 7
	sub     = 1 << subBits
	// Values below 2*sub are counted exactly, one bucket each; above,
	// every power of two gets sub buckets. 2*sub + 55 powers of two cover
	// every positive int64.
	histBuckets = 2*sub + (63-subBits-1)*sub
)

// bucketOf is the bucket a value (nanoseconds, >= 0) falls in.
func bucketOf(v int64) int {
	if v < 2*sub {
		return int(v)
	}
	n := bits.Len64(uint64(v)) // > subBits+1
	shift := n - subBits - 1
	top := int(v >> shift) // in [sub, 2*sub)
	return 2*sub + (shift-1)*sub + (top - sub)
}

// bucketHigh is the largest value counted in bucket i.
func bucketHigh(i int) int64 {
	if i < 2*sub {
		return int64(i)
	}
	shift := (i-2*sub)/sub + 1
	top := int64((i-2*sub)%sub + sub)
	return (top+1)<<shift - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest sample.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the average sample.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the smallest recorded value v such that a fraction q of
// the samples is at most v, to within the bucket's width: the bucket's
// highest value is reported, so a percentile is never understated. q is in
// [0, 1]; an empty histogram answers 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
