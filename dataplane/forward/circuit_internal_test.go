package forward

import (
	"testing"
	"time"
)

// The circuit opens after threshold failures in a row, probes ever more
// rarely up to its maximum, never sooner than a Retry-After, and closes on
// the first answer.
func TestCircuitStates(t *testing.T) {
	now := time.Now()
	c := newCircuit(3, 100*time.Millisecond, 300*time.Millisecond)
	for i := range 2 {
		if opened, _ := c.failed(false, 0, now); opened {
			t.Fatalf("opened after %d failures", i+1)
		}
	}
	// A success in between starts the count again.
	if c.succeeded() {
		t.Fatal("a closed circuit closed")
	}
	for range 2 {
		c.failed(false, 0, now)
	}
	opened, wait := c.failed(false, 0, now)
	if !opened || c.state != CircuitOpen || wait < 50*time.Millisecond || wait > 100*time.Millisecond {
		t.Fatalf("third failure: opened %v, next probe in %v", opened, wait)
	}
	// Attempts that were in flight when it opened change nothing.
	if opened, _ := c.failed(false, 0, now); opened || c.state != CircuitOpen {
		t.Fatal("a failure while open changed the circuit")
	}
	// Failed probes double the spacing up to the maximum.
	for _, ceiling := range []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond} {
		if !c.probeDue() || c.state != CircuitHalfOpen || c.probeDue() {
			t.Fatal("not half-open when the probe was due")
		}
		if opened, _ := c.failed(false, 0, now); opened {
			t.Fatal("an attempt other than the probe decided")
		}
		opened, wait := c.failed(true, 0, now)
		if !opened || wait < ceiling/2 || wait > ceiling {
			t.Fatalf("probe failed: opened %v, next in %v, want up to %v", opened, wait, ceiling)
		}
	}
	c.probeDue()
	if _, wait := c.failed(true, time.Hour, now); wait != time.Hour {
		t.Fatalf("Retry-After of an hour, next probe in %v", wait)
	}
	c.probeDue()
	if !c.succeeded() || c.state != CircuitClosed || c.failures != 0 {
		t.Fatalf("probe taken: %+v", c)
	}
	// Closed again, it takes threshold failures anew, and probes from the
	// first spacing.
	c.failed(false, 0, now)
	c.failed(false, 0, now)
	if opened, wait := c.failed(false, 0, now); !opened || wait > 100*time.Millisecond {
		t.Fatalf("reopened %v, next probe in %v", opened, wait)
	}
	if !c.probeDue() || !c.succeeded() {
		t.Fatal("probe after reopening")
	}
	if newCircuit(0, 0, 0).threshold != DefaultCircuitThreshold {
		t.Fatal("defaults")
	}
}
