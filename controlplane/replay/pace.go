package replay

import (
	"context"
	"math"
	"time"
)

// pacer spaces receipts to a rate.
type pacer struct {
	every time.Duration
	next  time.Time
}

// newPacer paces to rate per second; zero means DefaultRate, negative no
// limit.
func newPacer(rate float64) *pacer {
	if rate == 0 {
		rate = DefaultRate
	}
	if rate < 0 || math.IsInf(rate, 1) {
		return &pacer{}
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate)}
}

// wait returns when the next receipt may go; false when ctx is done.
func (p *pacer) wait(ctx context.Context) bool {
	if p.every <= 0 {
		return ctx.Err() == nil
	}
	now := time.Now()
	if p.next.After(now) {
		if !sleep(ctx, p.next.Sub(now)) {
			return false
		}
	} else {
		p.next = now
	}
	p.next = p.next.Add(p.every)
	return true
}
