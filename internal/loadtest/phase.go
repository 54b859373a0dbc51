package loadtest

import (
	"context"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Target makes the requests of a phase: request seq and the provider event
// id it carries. Webhooks is the Target of every phase.
type Target interface {
	NewRequest(ctx context.Context, phase string, seq int64) (*http.Request, string, error)
}

// Phase is one measured stretch of load.
type Phase struct {
	Name string
	// Workers is how many requests may be under way at once, each on its
	// own keep-alive connection.
	Workers  int
	Duration time.Duration
	// Rate, when positive, sends open-loop at that many requests per
	// second; zero sends closed-loop, each worker as fast as answers come.
	Rate float64
}

// Result is what a phase measured.
type Result struct {
	Phase
	Elapsed time.Duration
	// Sent counts requests sent; OK those answered 200.
	Sent, OK int64
	// Status counts answers by HTTP status; 0 counts requests that got
	// none (connection error or timeout), -1 requests that could not be
	// made (signing failed).
	Status map[int]int64
	// Unsent counts open-loop requests never sent because the phase ran
	// far past its schedule (the server fell hopelessly behind).
	Unsent int64
	// Latency is from send to answer (closed loop) or from the intended
	// send time to answer (open loop), for every answered request.
	Latency *Histogram
	// Delivery is the exactly-once check, filled in after the phase once
	// the destination has what it will get; Drain is how long that took.
	Delivery *Tally
	Drain    time.Duration
	// Lag is each delivered event's delivery lag, accepted (200 read)
	// to received at the destination; filled in with Delivery.
	Lag *Histogram
}

// Throughput is accepted (200) requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Delivered is accepted events delivered per second over the phase and
// the wait for its deliveries: the rate sustained end to end, when the
// forwarder is slower than the receiver.
func (r *Result) Delivered() float64 {
	if r.Delivery == nil || r.Elapsed+r.Drain <= 0 {
		return 0
	}
	return float64(r.Delivery.Delivered) / (r.Elapsed + r.Drain).Seconds()
}

// Errors lists the non-200 answers by status, 0 (no answer) first.
func (r *Result) Errors() []StatusCount {
	var out []StatusCount
	for code, n := range r.Status {
		if code != http.StatusOK {
			out = append(out, StatusCount{code, n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// StatusCount is a number of answers with one status.
type StatusCount struct {
	Code  int
	Count int64
}

// NewClient returns an HTTP client keeping one connection per worker
// alive, without compression, with a timeout long enough never to cut a
// slow answer short of what the server allows.
func NewClient(workers int) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Run runs phase p against target with client, noting every event in
// ledger (nil notes nothing). It returns when the phase's time is up and
// every request under way has its answer, or when ctx ends.
func Run(ctx context.Context, client *http.Client, target Target, ledger *Ledger, p Phase) *Result {
	workers := max(p.Workers, 1)
	hists := make([]Histogram, workers)
	status := make([]map[int]int64, workers)
	var next atomic.Int64
	var unsent atomic.Int64
	start := time.Now()
	deadline := start.Add(p.Duration)
	var sched Schedule
	// An open-loop phase gives up on requests that would go out more
	// than this late: past it the server is not keeping up at all, and the
	// report says how many were dropped.
	var giveUp time.Time
	if p.Rate > 0 {
		sched = NewSchedule(start, p.Rate, p.Duration)
		giveUp = sched.End().Add(max(p.Duration, 5*time.Second))
	}
	// send makes request seq; its latency counts from due, or from when it
	// goes out for a zero due (closed loop).
	send := func(w int, seq int64, due time.Time) {
		req, id, err := target.NewRequest(ctx, p.Name, seq)
		if err != nil {
			status[w][-1]++
			return
		}
		if ledger != nil {
			ledger.Sent(p.Name, id)
		}
		from := due
		if from.IsZero() {
			from = time.Now()
		}
		code := 0
		resp, err := client.Do(req)
		if err == nil {
			// Reading the answer to its end lets the connection be
			// reused.
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if ctx.Err() != nil && code == 0 {
			return // cut off by the caller, not answered
		}
		hists[w].Record(time.Since(from))
		status[w][code]++
		if ledger != nil {
			ledger.Answered(id, code)
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		status[w] = map[int]int64{}
		wg.Go(func() {
			for ctx.Err() == nil {
				seq := next.Add(1) - 1
				if p.Rate <= 0 {
					if !time.Now().Before(deadline) {
						return
					}
					send(w, seq, time.Time{})
					continue
				}
				if seq >= sched.Total {
					return
				}
				due := sched.At(seq)
				if time.Now().After(giveUp) {
					unsent.Add(1)
					continue
				}
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				send(w, seq, due)
			}
		})
	}
	wg.Wait()
	res := &Result{Phase: p, Elapsed: time.Since(start), Status: map[int]int64{}, Unsent: unsent.Load(), Latency: &Histogram{}}
	for w := range workers {
		res.Latency.Merge(&hists[w])
		for code, n := range status[w] {
			res.Status[code] += n
			if code >= 0 {
				res.Sent += n
			}
		}
	}
	res.OK = res.Status[http.StatusOK]
	return res
}

// addRound adds round o of a phase to r, the rounds before it (nil for
// none), and names the sum name: the rates of the sum are over every
// round's time.
func addRound(r, o *Result, name string) *Result {
	if r == nil {
		o.Name = name
		return o
	}
	r.Duration += o.Duration
	r.Elapsed += o.Elapsed
	r.Sent += o.Sent
	r.OK += o.OK
	r.Unsent += o.Unsent
	for code, n := range o.Status {
		r.Status[code] += n
	}
	r.Latency.Merge(o.Latency)
	if o.Delivery != nil {
		r.Delivery = addTally(r.Delivery, *o.Delivery)
	}
	r.Drain += o.Drain
	r.Lag = mergeHist(r.Lag, o.Lag)
	return r
}

// addTally adds o to t (nil for none).
func addTally(t *Tally, o Tally) *Tally {
	if t == nil {
		return &o
	}
	s := Tally{
		Accepted: t.Accepted + o.Accepted, Delivered: t.Delivered + o.Delivered, Lost: t.Lost + o.Lost,
		Duplicated: t.Duplicated + o.Duplicated, ExtraDeliveries: t.ExtraDeliveries + o.ExtraDeliveries,
		Uncertain: t.Uncertain + o.Uncertain, UncertainDelivered: t.UncertainDelivered + o.UncertainDelivered,
		// Unexpected deliveries belong to no phase: every tally counts
		// them all.
		Unexpected: max(t.Unexpected, o.Unexpected),
	}
	return &s
}

// mergeHist is a histogram of a's and b's samples (either may be nil).
func mergeHist(a, b *Histogram) *Histogram {
	h := &Histogram{}
	if a != nil {
		h.Merge(a)
	}
	if b != nil {
		h.Merge(b)
	}
	return h
}
