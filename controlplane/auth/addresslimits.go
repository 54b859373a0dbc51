package auth

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultMaxAddresses bounds the addresses AddressLimits remembers.
const DefaultMaxAddresses = 65536

// AddressLimits bounds the calls each client address makes without valid
// credentials (none, or a wrong API key or data-plane token): Limit's
// rate, with its burst. An address past it is refused every call,
// RESOURCE_EXHAUSTED, until its bucket refills, whatever credentials the
// call carries: answering a valid key differently would let a guesser go
// on at full speed. Calls with valid credentials take no token.
type AddressLimits struct {
	Limit *plugsv1.RateLimit
	// MaxAddresses bounds memory against callers cycling through
	// addresses; 0 means DefaultMaxAddresses. Past it, the buckets of
	// addresses quiet long enough to be full again are dropped first.
	MaxAddresses int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func (a *AddressLimits) on() bool {
	return a != nil && a.Limit.GetRequestsPerSecond() > 0
}

// check refuses a call from an address that has no token left.
func (a *AddressLimits) check(ctx context.Context, addr string) error {
	if !a.on() {
		return nil
	}
	now := time.Now()
	a.mu.Lock()
	b := a.buckets[addr]
	var tokens float64
	if b != nil {
		tokens = b.TokensAt(now)
	}
	a.mu.Unlock()
	if b == nil || tokens >= 1 {
		return nil
	}
	wait := time.Duration((1 - tokens) / float64(b.Limit()) * float64(time.Second))
	return exhausted(ctx, "too many calls without valid credentials from this address", wait)
}

// failed takes a token from the address for a call refused for its
// credentials.
func (a *AddressLimits) failed(addr string) {
	if !a.on() {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.buckets[addr]
	if b == nil {
		if a.buckets == nil {
			a.buckets = map[string]*rate.Limiter{}
		}
		a.sweep(now)
		rps, burst := a.Limit.GetRequestsPerSecond(), int(a.Limit.GetBurst())
		if burst <= 0 {
			burst = max(1, int(math.Ceil(rps)))
		}
		b = rate.NewLimiter(rate.Limit(rps), burst)
		a.buckets[addr] = b
	}
	b.AllowN(now, 1)
}

// sweep makes room for one more address. a.mu is held.
func (a *AddressLimits) sweep(now time.Time) {
	limit := a.MaxAddresses
	if limit <= 0 {
		limit = DefaultMaxAddresses
	}
	if len(a.buckets) < limit {
		return
	}
	// A full bucket is the same as none.
	for k, b := range a.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(a.buckets, k)
		}
	}
	// Still full: forget some (map order is arbitrary), a tenth of them,
	// so the sweep does not run again at once.
	for k := range a.buckets {
		if len(a.buckets) < limit-limit/10 {
			break
		}
		delete(a.buckets, k)
	}
}
