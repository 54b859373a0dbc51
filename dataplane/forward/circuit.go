package forward

import (
	"math/rand/v2"
	"time"
)

// Defaults of the circuit that guards each destination (Options).
const (
	DefaultCircuitThreshold = 5
	DefaultProbeBackoff     = time.Second
	DefaultMaxProbeBackoff  = 30 * time.Second
)

// CircuitState is the state of a destination's circuit.
type CircuitState int

const (
	// CircuitClosed: deliveries are made at the destination's full
	// concurrency.
	CircuitClosed CircuitState = iota
	// CircuitOpen: the destination failed CircuitThreshold attempts in a
	// row. No delivery is attempted; they wait, their retry counts
	// untouched, until a probe is due.
	CircuitOpen
	// CircuitHalfOpen: one delivery is attempted as a probe. Its success
	// closes the circuit; its failure opens it again, for twice as long.
	CircuitHalfOpen
	// CircuitStopped is reported when a destination's deliveries stop
	// (paused, removed, reconfigured): it has no circuit any more.
	CircuitStopped
)

func (s CircuitState) String() string {
	switch s {
	case CircuitClosed:
		return "closed"
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half_open"
	case CircuitStopped:
		return "stopped"
	}
	return "unknown"
}

// circuit decides, from the outcomes of the attempts to one destination,
// whether attempts are made. It is only the state machine: the deliverer
// holds the deliveries and keeps the time. Not safe for concurrent use.
type circuit struct {
	threshold          int
	minProbe, maxProbe time.Duration

	state CircuitState
	// failures counts the failed attempts since the last success.
	failures int
	// probesFailed counts the probes failed since the circuit opened.
	probesFailed int
	// spacing is the wait before the next probe; it doubles with each
	// failed probe and starts again from minProbe when the circuit closes.
	spacing time.Duration
	// openedAt is when the circuit last opened from closed: how long the
	// destination has been failing.
	openedAt time.Time
}

func newCircuit(threshold int, minProbe, maxProbe time.Duration) *circuit {
	if threshold <= 0 {
		threshold = DefaultCircuitThreshold
	}
	if minProbe <= 0 {
		minProbe = DefaultProbeBackoff
	}
	if maxProbe <= 0 {
		maxProbe = DefaultMaxProbeBackoff
	}
	maxProbe = max(maxProbe, minProbe)
	return &circuit{threshold: threshold, minProbe: minProbe, maxProbe: maxProbe, spacing: minProbe}
}

// failed records a failed attempt, the probe's when probe is set. It
// reports whether the circuit opened, and then how long until the next
// probe: the probe spacing, or the destination's Retry-After when longer.
func (c *circuit) failed(probe bool, retryAfter time.Duration, now time.Time) (opened bool, wait time.Duration) {
	switch c.state {
	case CircuitClosed:
		c.failures++
		if c.failures < c.threshold {
			return false, 0
		}
		c.openedAt = now
		c.spacing = c.minProbe
		c.probesFailed = 0
	case CircuitHalfOpen:
		if !probe {
			// An attempt that started before the circuit opened says
			// nothing the probe will not.
			return false, 0
		}
		c.spacing = min(2*c.spacing, c.maxProbe)
		c.probesFailed++
	default:
		return false, 0
	}
	c.state = CircuitOpen
	// Jitter, so the data planes sharing a destination do not probe it
	// in step.
	wait = c.spacing/2 + time.Duration(rand.Int64N(int64(c.spacing/2)+1))
	return true, max(wait, retryAfter)
}

// succeeded records a delivered (or permanently refused, but answered)
// attempt. It reports whether the circuit closed.
func (c *circuit) succeeded() (closed bool) {
	c.failures = 0
	if c.state == CircuitClosed {
		return false
	}
	c.state = CircuitClosed
	c.spacing = c.minProbe
	return true
}

// probeDue moves an open circuit to half-open; it reports false when the
// circuit was not open.
func (c *circuit) probeDue() bool {
	if c.state != CircuitOpen {
		return false
	}
	c.state = CircuitHalfOpen
	return true
}
