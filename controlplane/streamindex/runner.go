package streamindex

import (
	"context"
	"sync"
)

// Runner lets one run of a background job happen at a time, and lets Stop
// end it. The zero value is ready.
type Runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Run calls job with a context that Stop, or the end of ctx, cancels, and
// returns true when job returns; false at once when a run is under way.
func (r *Runner) Run(ctx context.Context, job func(context.Context)) bool {
	r.mu.Lock()
	if r.done != nil {
		r.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	r.mu.Unlock()
	defer func() {
		cancel()
		r.mu.Lock()
		r.cancel, r.done = nil, nil
		r.mu.Unlock()
		close(done)
	}()
	job(ctx)
	return true
}

// Stop ends the run under way, if any, and waits for it.
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
