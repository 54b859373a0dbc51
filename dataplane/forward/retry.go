package forward

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// policy is a RetryPolicy with its defaults applied.
type policy struct {
	maxAttempts int
	initial     time.Duration
	maxBackoff  time.Duration
	maxAge      time.Duration
	retryCodes  []int32
}

func policyOf(rp *plugsv1.RetryPolicy) policy {
	p := policy{
		maxAttempts: int(rp.GetMaxAttempts()),
		initial:     rp.GetInitialBackoff().AsDuration(),
		maxBackoff:  rp.GetMaxBackoff().AsDuration(),
		maxAge:      rp.GetMaxAge().AsDuration(),
		retryCodes:  rp.GetRetryStatusCodes(),
	}
	if p.maxAttempts <= 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.initial <= 0 {
		p.initial = DefaultInitialBackoff
	}
	if p.maxBackoff <= 0 {
		p.maxBackoff = DefaultMaxBackoff
	}
	p.maxBackoff = max(p.maxBackoff, p.initial)
	if p.maxAge <= 0 {
		p.maxAge = DefaultMaxAge
	}
	return p
}

// verdict is what an attempt's result means for the delivery.
type verdict int

const (
	delivered verdict = iota
	retry
	permanent
)

// judge classifies an answer. Network errors and timeouts are retried,
// as are 5xx, 429 and the 4xx the policy lists; every other status,
// redirects included (they are never followed), fails at once: the same
// request would get the same answer.
func (p policy) judge(status int, err error, refused bool) verdict {
	switch {
	case refused:
		// The egress guard refused the address; only a configuration
		// change helps, and a re-drive resends once it is made.
		return permanent
	case err != nil && status == 0:
		return retry
	case status >= 200 && status < 300:
		return delivered
	case status >= 500, status == http.StatusTooManyRequests:
		return retry
	case status >= 400 && status < 500 && slices.Contains(p.retryCodes, int32(status)):
		return retry
	default:
		return permanent
	}
}

// backoff is the delay after failed attempt n (1-based): exponential from
// the initial backoff, doubling up to the maximum, with full jitter, so
// deliveries that failed together (a destination's outage) do not come
// back together.
func (p policy) backoff(n int) time.Duration {
	ceiling := p.initial
	for i := 1; i < n && ceiling < p.maxBackoff; i++ {
		if ceiling > p.maxBackoff/2 { // doubling would pass the cap, or overflow
			ceiling = p.maxBackoff
			break
		}
		ceiling *= 2
	}
	ceiling = min(ceiling, p.maxBackoff)
	return time.Duration(rand.Int64N(int64(ceiling)))
}

// retryAfter reads the Retry-After header of a 429 or 503: delay-seconds
// or an HTTP date. It reports false when there is none or it cannot be
// read; the result is never negative and never above the policy's
// maximum backoff, so a destination cannot park a delivery for a year.
func (p policy) retryAfter(status int, h http.Header, now time.Time) (time.Duration, bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(p.maxBackoff/time.Second) {
			return p.maxBackoff, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), p.maxBackoff), true
}
