package loadtest

import (
	"testing"
	"time"
)

// Rounds of a phase add up: counts, time, latencies, tallies and lags,
// so the sum's rate is over every round's time.
func TestAddRound(t *testing.T) {
	round := func(name string, ok int64, lat time.Duration) *Result {
		h, lag := &Histogram{}, &Histogram{}
		h.Record(lat)
		lag.Record(10 * lat)
		return &Result{Phase: Phase{Name: name, Duration: time.Second}, Elapsed: time.Second, Sent: ok + 1, OK: ok,
			Status: map[int]int64{200: ok, 0: 1}, Latency: h, Lag: lag,
			Delivery: &Tally{Accepted: int(ok), Delivered: int(ok), Uncertain: 1, Unexpected: 1}, Drain: time.Second}
	}
	r := addRound(nil, round("memory-r1", 100, time.Millisecond), "memory")
	r = addRound(r, round("memory-r2", 300, 3*time.Millisecond), "memory")
	if r.Name != "memory" || r.OK != 400 || r.Sent != 402 || r.Status[0] != 2 || r.Elapsed != 2*time.Second || r.Duration != 2*time.Second {
		t.Fatalf("sum %+v", r)
	}
	if r.Throughput() != 200 || r.Delivered() != 100 {
		t.Errorf("%.0f/s accepted, %.0f/s delivered; want 200 and 100", r.Throughput(), r.Delivered())
	}
	if r.Latency.Count() != 2 || r.Latency.Max() != 3*time.Millisecond || r.Lag.Count() != 2 || r.Lag.Max() != 30*time.Millisecond {
		t.Errorf("latency %d samples, max %v; lag %d, max %v", r.Latency.Count(), r.Latency.Max(), r.Lag.Count(), r.Lag.Max())
	}
	want := Tally{Accepted: 400, Delivered: 400, Uncertain: 2, Unexpected: 1}
	if *r.Delivery != want {
		t.Errorf("tally %+v, want %+v", *r.Delivery, want)
	}
}
