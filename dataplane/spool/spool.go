// Package spool publishes records to the backbone off the path that made
// them: the receipt of a webhook, the log entry of a delivery attempt. A
// record waits in a bounded buffer for one goroutine to publish it; when
// the buffer is full, or the backbone keeps refusing, the record is dropped
// and counted instead, so recording never blocks the webhook or the
// delivery it describes, and never loses either.
package spool

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSize is how many records may wait to be published.
const DefaultSize = 10_000

// DefaultWorkers is how many publishes are under way at once. One at a
// time, a spool publishes one record per round trip to the backbone, well
// below the rate webhooks arrive at; records then pile up in the buffer
// (holding raw bodies) and are dropped.
const DefaultWorkers = 8

// tries bounds the publishes of one record before it is dropped.
const tries = 3

// Options configure a Spool.
type Options[T any] struct {
	// What names the records in logs, for example "receipt".
	What string
	// Size is how many records may wait; 0 means DefaultSize.
	Size int
	// Timeout bounds one publish; 0 means 2 s.
	Timeout time.Duration
	// Workers is how many publishes may be under way at once; 0 means
	// DefaultWorkers. Records are published in no particular order.
	Workers int
	// MaxBytes bounds the bytes of the records waiting or being
	// published, as Bytes counts them; 0 means no bound but Size. A record
	// that would pass it is dropped: records carrying request bodies (up
	// to a MiB each) must not hold a data plane's memory hostage to a slow
	// backbone.
	MaxBytes int64
	// Bytes is the size of a record, for MaxBytes.
	Bytes func(T) int64
	// Attrs are the log attributes that identify a dropped record.
	Attrs func(T) []any
	Log   *slog.Logger
}

// Spool publishes records in the background.
type Spool[T any] struct {
	publish func(context.Context, T) error
	opts    Options[T]
	buf     chan T

	dropped   atomic.Int64
	published atomic.Int64
	bytes     atomic.Int64 // of the records held, when MaxBytes is set
	once      sync.Once
	done      chan struct{}
}

// New returns a spool that hands each record to publish, which stores it
// and waits for the confirmation; it must be safe to repeat (a message id
// derived from the record), since a publish whose confirmation was lost is
// tried again. Run publishes.
func New[T any](publish func(context.Context, T) error, o Options[T]) *Spool[T] {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.What == "" {
		o.What = "record"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Spool[T]{publish: publish, opts: o, buf: make(chan T, o.Size), done: make(chan struct{})}
}

// Record queues v for publishing. It never blocks: with the buffer full
// the record is dropped and counted.
func (s *Spool[T]) Record(v T) { s.Offer(v) }

// Offer is Record that says whether v was queued: false when it was
// dropped for want of room.
func (s *Spool[T]) Offer(v T) bool {
	if n := s.size(v); n > 0 && s.bytes.Add(n) > s.opts.MaxBytes {
		s.bytes.Add(-n)
		s.drop()
		return false
	}
	select {
	case s.buf <- v:
		return true
	default:
		s.bytes.Add(-s.size(v))
		s.drop()
		return false
	}
}

func (s *Spool[T]) drop() {
	if s.dropped.Add(1)%1000 == 1 {
		s.opts.Log.Warn(s.opts.What+" buffer full; "+s.opts.What+"s dropped", "dropped_total", s.dropped.Load())
	}
}

// size is what v counts against MaxBytes, 0 without a bound.
func (s *Spool[T]) size(v T) int64 {
	if s.opts.MaxBytes <= 0 || s.opts.Bytes == nil {
		return 0
	}
	return max(s.opts.Bytes(v), 1)
}

// Dropped is how many records were dropped since start.
func (s *Spool[T]) Dropped() int64 { return s.dropped.Load() }

// Published is how many records the backbone confirmed.
func (s *Spool[T]) Published() int64 { return s.published.Load() }

// Run publishes until ctx ends, then publishes what is still buffered
// (each with its usual timeout) and returns.
func (s *Spool[T]) Run(ctx context.Context) {
	defer s.once.Do(func() { close(s.done) })
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Wait()
}

// work is one publisher: it takes records until ctx ends, then helps drain
// the buffer.
func (s *Spool[T]) work(ctx context.Context) {
	for {
		select {
		case v := <-s.buf:
			s.send(context.WithoutCancel(ctx), v)
		case <-ctx.Done():
			for {
				select {
				case v := <-s.buf:
					s.send(context.WithoutCancel(ctx), v)
				default:
					return
				}
			}
		}
	}
}

// Done is closed when Run has returned.
func (s *Spool[T]) Done() <-chan struct{} { return s.done }

func (s *Spool[T]) send(ctx context.Context, v T) {
	defer s.bytes.Add(-s.size(v))
	var err error
	wait := 100 * time.Millisecond
	for i := range tries {
		pctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		err = s.publish(pctx, v)
		cancel()
		if err == nil {
			s.published.Add(1)
			return
		}
		if i < tries-1 {
			time.Sleep(wait)
			wait *= 2
		}
	}
	s.dropped.Add(1)
	var attrs []any
	if s.opts.Attrs != nil {
		attrs = s.opts.Attrs(v)
	}
	s.opts.Log.Warn(s.opts.What+" dropped: the backbone did not take it", append(attrs, "error", err)...)
}
