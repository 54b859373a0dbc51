package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultReportEvery is how often a Budget reports what went over it, per
// key, when nothing else is set.
const DefaultReportEvery = time.Minute

// Budget is a per-key allowance for something that costs more than the
// request it follows: a data plane keeps the receipt of a rejected request
// within its source's budget, and only counts the rejections past it. It
// is a token bucket per key, the same for every key, that also counts
// what it refused so the caller can report it in one line now and then
// instead of one per refusal.
//
// A nil Budget allows everything.
type Budget struct {
	limit rate.Limit
	burst int
	every time.Duration
	// keys holds a bucket per key seen. Only keys of known sources get
	// here, so their number is bounded by the configuration.
	keys sync.Map // string -> *budgetKey
}

type budgetKey struct {
	lim *rate.Limiter

	mu sync.Mutex
	// over is how many were refused since the last report.
	over int64
	// reported is when the last report was due; zero before the first.
	reported time.Time
}

// NewBudget returns a budget of rps per second and burst at once for each
// key (burst 0 means rps rounded up), reporting refusals at most once per
// reportEvery per key (0 means DefaultReportEvery). rps 0 returns nil: no
// budget.
func NewBudget(rps float64, burst int, reportEvery time.Duration) *Budget {
	if rps <= 0 {
		return nil
	}
	if reportEvery <= 0 {
		reportEvery = DefaultReportEvery
	}
	return &Budget{limit: rate.Limit(rps), burst: burstOf(rps, burst), every: reportEvery}
}

// Spend takes one from key's budget at now. When the budget is spent it
// takes nothing and says how long until it is not; report is then, at
// most once per report interval of the key, how many were refused since
// the last report, this one included, and 0 otherwise.
func (b *Budget) Spend(key string, now time.Time) (ok bool, retryAfter time.Duration, report int64) {
	if b == nil {
		return true, 0, 0
	}
	k := b.key(key)
	r := k.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return true, 0, 0
	}
	r.CancelAt(now)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.over++
	if !k.reported.IsZero() && now.Sub(k.reported) < b.every {
		return false, d, 0
	}
	report, k.over, k.reported = k.over, 0, now
	return false, d, report
}

func (b *Budget) key(key string) *budgetKey {
	if v, ok := b.keys.Load(key); ok {
		return v.(*budgetKey)
	}
	v, _ := b.keys.LoadOrStore(key, &budgetKey{lim: rate.NewLimiter(b.limit, b.burst)})
	return v.(*budgetKey)
}
