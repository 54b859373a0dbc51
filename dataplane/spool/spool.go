// Package spool publishes records to the backbone off the path that made
// them: the receipt of a webhook, the log entry of a delivery attempt. A
// record waits in a bounded buffer for a worker to publish it; when the
// buffer is full, or the backbone keeps refusing, the record is dropped and
// counted instead, so recording never blocks the webhook or the delivery it
// describes, and never loses either.
//
// A worker takes what is waiting, not more than one batch's worth, and
// publishes the records of one group (records that may share a subject)
// together: under load a
// message carries many records, while a lone record is published at once,
// alone.
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

// DefaultWorkers is how many workers take and publish records at once.
// One at a time, a spool would wait a round trip to the backbone between
// batches while records pile up in the buffer (holding raw bodies).
const DefaultWorkers = 8

// DefaultBatchWorkers is DefaultWorkers of a spool that batches (Group
// set). A worker takes everything waiting, up to a batch, so while few
// workers are publishing records pile up into big batches: more would
// each take a record or two and publish them alone, one message each.
const DefaultBatchWorkers = 2

// tries bounds the publishes of one batch before its records are dropped.
const tries = 3

// Default bounds of a batch: the records and the bytes (as Options.Bytes
// counts them) one publish carries. Half the backbone's default max
// payload (1 MiB) leaves room for the batch's own framing.
const (
	DefaultBatchRecords = 256
	DefaultBatchBytes   = 512 << 10
)

// Options configure a Spool.
type Options[T any] struct {
	// What names the records in logs, for example "receipt".
	What string
	// Size is how many records may wait; 0 means DefaultSize.
	Size int
	// Timeout bounds one publish; 0 means 2 s.
	Timeout time.Duration
	// Workers is how many workers take and publish records at once; 0
	// means DefaultWorkers, or DefaultBatchWorkers with Group. Records are
	// published in no particular order.
	Workers int
	// MaxBytes bounds the bytes of the records waiting or being
	// published, as Bytes counts them; 0 means no bound but Size. A record
	// that would pass it is dropped: records carrying request bodies (up
	// to a MiB each) must not hold a data plane's memory hostage to a slow
	// backbone.
	MaxBytes int64
	// Bytes is the size of a record, for MaxBytes and BatchBytes.
	Bytes func(T) int64
	// Group names the records that may share a publish (the subject they
	// would share); nil publishes each record alone.
	Group func(T) string
	// BatchRecords bounds the records of one publish; 0 means
	// DefaultBatchRecords.
	BatchRecords int
	// BatchBytes bounds the bytes of one publish, as Bytes counts them
	// (without Bytes, only BatchRecords bounds a batch); 0 means
	// DefaultBatchBytes. A record bigger than this goes alone.
	BatchBytes int64
	// Attrs are the log attributes that identify a dropped record.
	Attrs func(T) []any
	Log   *slog.Logger
}

// Spool publishes records in the background.
type Spool[T any] struct {
	publish func(context.Context, []T) error
	opts    Options[T]
	buf     chan held[T]

	dropped   atomic.Int64
	published atomic.Int64
	messages  atomic.Int64 // publishes confirmed, each of one record or a batch
	bytes     atomic.Int64 // of the records held, when MaxBytes is set
	once      sync.Once
	done      chan struct{}
}

// New returns a spool that hands records to publish, one or several of one
// group at a time, which stores them and waits for the confirmation; it
// must be safe to repeat (a message id derived from the records), since a
// publish whose confirmation was lost is tried again with the same
// records. Run publishes.
func New[T any](publish func(context.Context, []T) error, o Options[T]) *Spool[T] {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
		if o.Group != nil {
			o.Workers = DefaultBatchWorkers
		}
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = DefaultBatchRecords
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.What == "" {
		o.What = "record"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Spool[T]{publish: publish, opts: o, buf: make(chan held[T], o.Size), done: make(chan struct{})}
}

// held is a record waiting, with its size as Options.Bytes counts it (0
// without Bytes), counted once when it is offered.
type held[T any] struct {
	v T
	n int64
}

// Record queues v for publishing. It never blocks: with the buffer full
// the record is dropped and counted.
func (s *Spool[T]) Record(v T) { s.Offer(v) }

// Offer is Record that says whether v was queued: false when it was
// dropped for want of room.
func (s *Spool[T]) Offer(v T) bool {
	h := held[T]{v: v}
	if s.opts.Bytes != nil {
		h.n = s.opts.Bytes(v)
	}
	if c := s.charge(h); c > 0 && s.bytes.Add(c) > s.opts.MaxBytes {
		s.bytes.Add(-c)
		s.drop()
		return false
	}
	select {
	case s.buf <- h:
		return true
	default:
		s.bytes.Add(-s.charge(h))
		s.drop()
		return false
	}
}

func (s *Spool[T]) drop() {
	if s.dropped.Add(1)%1000 == 1 {
		s.opts.Log.Warn(s.opts.What+" buffer full; "+s.opts.What+"s dropped", "dropped_total", s.dropped.Load())
	}
}

// charge is what h counts against MaxBytes, 0 without a bound.
func (s *Spool[T]) charge(h held[T]) int64 {
	if s.opts.MaxBytes <= 0 || s.opts.Bytes == nil {
		return 0
	}
	return max(h.n, 1)
}

// Dropped is how many records were dropped since start.
func (s *Spool[T]) Dropped() int64 { return s.dropped.Load() }

// Published is how many records the backbone confirmed.
func (s *Spool[T]) Published() int64 { return s.published.Load() }

// Messages is how many publishes the backbone confirmed, each carrying
// one record or a batch: Published/Messages is the mean batch.
func (s *Spool[T]) Messages() int64 { return s.messages.Load() }

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

// work is one publisher: it takes what is waiting until ctx ends, then
// helps drain the buffer.
func (s *Spool[T]) work(ctx context.Context) {
	for {
		select {
		case h := <-s.buf:
			s.sendAll(context.WithoutCancel(ctx), s.take(h))
		case <-ctx.Done():
			for {
				select {
				case h := <-s.buf:
					s.sendAll(context.WithoutCancel(ctx), s.take(h))
				default:
					return
				}
			}
		}
	}
}

// take is first and what else is waiting, up to a batch's worth of
// records and bytes: it never waits for more, so a lone record goes at
// once, and while a publish is under way the next records pile up into
// the next batch.
func (s *Spool[T]) take(first held[T]) []held[T] {
	hs := []held[T]{first}
	if s.opts.Group == nil {
		return hs
	}
	bytes := first.n
	for len(hs) < s.opts.BatchRecords && bytes < s.opts.BatchBytes {
		select {
		case h := <-s.buf:
			hs = append(hs, h)
			bytes += h.n
		default:
			return hs
		}
	}
	return hs
}

// batches splits records into those published together: of one group,
// within BatchRecords and BatchBytes, in the order taken.
func (s *Spool[T]) batches(hs []held[T]) [][]held[T] {
	if s.opts.Group == nil || len(hs) == 1 {
		out := make([][]held[T], len(hs))
		for i := range hs {
			out[i] = hs[i : i+1 : i+1]
		}
		return out
	}
	type open struct {
		i     int // in out
		bytes int64
	}
	var out [][]held[T]
	groups := map[string]*open{}
	for _, h := range hs {
		g := s.opts.Group(h.v)
		o := groups[g]
		if o == nil || len(out[o.i]) >= s.opts.BatchRecords || o.bytes+h.n > s.opts.BatchBytes {
			o = &open{i: len(out)}
			groups[g] = o
			out = append(out, nil)
		}
		out[o.i] = append(out[o.i], h)
		o.bytes += h.n
	}
	return out
}

// sendAll publishes the records taken, the batches of different groups at
// once: the worker's next take waits for all of them, so a worker has at
// most a batch's worth of records in flight.
func (s *Spool[T]) sendAll(ctx context.Context, hs []held[T]) {
	bs := s.batches(hs)
	if len(bs) == 1 {
		s.send(ctx, bs[0])
		return
	}
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() { s.send(ctx, b) })
	}
	wg.Wait()
}

// Done is closed when Run has returned.
func (s *Spool[T]) Done() <-chan struct{} { return s.done }

func (s *Spool[T]) send(ctx context.Context, hs []held[T]) {
	vs := make([]T, len(hs))
	var charged int64
	for i, h := range hs {
		vs[i] = h.v
		charged += s.charge(h)
	}
	defer s.bytes.Add(-charged)
	var err error
	wait := 100 * time.Millisecond
	for i := range tries {
		pctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		err = s.publish(pctx, vs)
		cancel()
		if err == nil {
			s.published.Add(int64(len(vs)))
			s.messages.Add(1)
			return
		}
		if i < tries-1 {
			time.Sleep(wait)
			wait *= 2
		}
	}
	s.dropped.Add(int64(len(vs)))
	var attrs []any
	if s.opts.Attrs != nil {
		attrs = s.opts.Attrs(vs[0])
	}
	if len(vs) > 1 {
		attrs = append(attrs, "batch", len(vs))
	}
	s.opts.Log.Warn(s.opts.What+" dropped: the backbone did not take it", append(attrs, "error", err)...)
}
