package loadtest

import "time"

// Schedule is an open-loop plan: request i is due at Start + i/Rate,
// whatever happened to the requests before it. Latency is measured from
// the due time, not from when the request was actually sent, so a server
// that stalls is charged for every request that queued behind the stall
// (coordinated omission: a closed-loop client would have waited politely
// and recorded one slow request instead of many).
type Schedule struct {
	Start time.Time
	// Rate is requests per second; it must be positive.
	Rate float64
	// Total is how many requests the schedule holds.
	Total int64
}

// NewSchedule plans rate requests per second for d, starting at start.
func NewSchedule(start time.Time, rate float64, d time.Duration) Schedule {
	return Schedule{Start: start, Rate: rate, Total: int64(rate * d.Seconds())}
}

// At is when request i is due.
func (s Schedule) At(i int64) time.Time {
	return s.Start.Add(time.Duration(float64(i) / s.Rate * float64(time.Second)))
}

// End is when the last request is due.
func (s Schedule) End() time.Time {
	if s.Total == 0 {
		return s.Start
	}
	return s.At(s.Total - 1)
}
