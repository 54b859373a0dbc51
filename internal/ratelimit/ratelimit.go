// Package ratelimit holds keyed token buckets and a global one: a data
// plane's ingest endpoint keeps one per source that sets a limit and one
// for the whole data plane; the control plane's API one per API key. A
// request refused is answered 429 (RESOURCE_EXHAUSTED) with Retry-After.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Limiter decides whether a request may go on. The zero value and nil
// allow everything.
type Limiter struct {
	global *rate.Limiter
	// keys maps a key (a source id, an API key's prefix) to its
	// bucket. A bucket is replaced when the key's limit changes; buckets
	// of keys gone (deleted sources, revoked API keys) stay until the
	// process restarts, a few dozen bytes each. Only keys of known sources
	// and authenticated callers get here, so their number is bounded.
	keys sync.Map // string -> *bucket
}

type bucket struct {
	lim   *rate.Limiter
	rps   float64
	burst int
}

// New returns a limiter with a global bucket of globalRPS refill and
// globalBurst capacity; globalRPS 0 means no global limit, and burst 0
// means globalRPS rounded up.
func New(globalRPS float64, globalBurst int) *Limiter {
	l := &Limiter{}
	if globalRPS > 0 {
		l.global = rate.NewLimiter(rate.Limit(globalRPS), burstOf(globalRPS, globalBurst))
	}
	return l
}

// Allow reports whether a request for the key may go on at now, taking a
// token from the key's bucket (when limit sets one) and the global one.
// When it may not, it takes nothing and says how long until it may.
func (l *Limiter) Allow(key string, limit *plugsv1.RateLimit, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	var src *rate.Reservation
	if rps := limit.GetRequestsPerSecond(); rps > 0 {
		src = l.bucket(key, rps, burstOf(rps, int(limit.GetBurst()))).ReserveN(now, 1)
		if d := src.DelayFrom(now); d > 0 {
			src.CancelAt(now)
			return false, d
		}
	}
	if l.global != nil {
		g := l.global.ReserveN(now, 1)
		if d := g.DelayFrom(now); d > 0 {
			g.CancelAt(now)
			if src != nil {
				// The source's token goes back: the request is refused.
				src.CancelAt(now)
			}
			return false, d
		}
	}
	return true, 0
}

// bucket returns the key's bucket for the limit, making a new one when
// the limit changed.
func (l *Limiter) bucket(key string, rps float64, burst int) *rate.Limiter {
	if v, ok := l.keys.Load(key); ok {
		if b := v.(*bucket); b.rps == rps && b.burst == burst {
			return b.lim
		}
	}
	b := &bucket{lim: rate.NewLimiter(rate.Limit(rps), burst), rps: rps, burst: burst}
	l.keys.Store(key, b)
	return b.lim
}

// burstOf is the bucket size: burst, or rps rounded up when burst is 0.
func burstOf(rps float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(math.Ceil(rps)))
}
