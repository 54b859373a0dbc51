package loadtest

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	start := time.Unix(1700000000, 0)
	s := NewSchedule(start, 400, 2*time.Second)
	if s.Total != 800 {
		t.Fatalf("total = %d, want 800", s.Total)
	}
	// Evenly spaced, 2.5 ms apart, from the start; no drift over the run
	// because each time is computed from the start, not from the previous
	// one.
	for _, c := range []struct {
		i    int64
		want time.Duration
	}{{0, 0}, {1, 2500 * time.Microsecond}, {400, time.Second}, {799, 1997500 * time.Microsecond}} {
		if got := s.At(c.i).Sub(start); got != c.want {
			t.Errorf("At(%d) = start+%v, want start+%v", c.i, got, c.want)
		}
	}
	if got := s.End().Sub(start); got != 1997500*time.Microsecond {
		t.Errorf("End = start+%v", got)
	}
	if z := NewSchedule(start, 0.4, time.Second); z.Total != 0 || !z.End().Equal(start) {
		t.Errorf("a schedule too short for one request: %+v", z)
	}
}
