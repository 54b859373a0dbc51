// Package streamindex copies what the data planes publish to a backbone
// stream into a table of the control plane's database, where the API
// queries it, and deletes the rows again once they are older than the
// retention. The receipts and the delivery log are kept this way; what
// differs between them is the Table.
//
// Every control-plane replica runs an Indexer on the same durable
// consumer, so JetStream hands each message to one of them. Rows carry
// their own ids, so a message indexed twice (a lost ack, a redelivery)
// is stored once.
package streamindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of an Indexer's settings.
const (
	// DefaultRetentionEvery is how often old rows are deleted.
	DefaultRetentionEvery = time.Hour
	// DefaultBatchSize bounds the rows written in one insert, and the
	// messages taken at once (each carries one row or a batch of them).
	DefaultBatchSize = 500
	// DefaultPruneBatchSize bounds the rows deleted in one statement.
	DefaultPruneBatchSize = 1000
	// DefaultCommitEvery is the least time between two inserts of one
	// feed. Under load, messages arriving meanwhile go into the same
	// transaction, which writes the index pages its rows share and
	// upserts their rollups once. The rows themselves cost most, so the
	// saving is modest (BenchmarkInsert: 104 µs a receipt at 500 rows a
	// transaction, 114 µs at 6). An idle feed's message is indexed at
	// once.
	DefaultCommitEvery = 50 * time.Millisecond
	// DefaultRetryDelay is the wait before setting up the consumer again,
	// and before a message whose insert failed is delivered again.
	DefaultRetryDelay = 5 * time.Second
	// maxBatchBytes bounds the raw messages held at once (a receipt
	// carries a body of up to a source's limit, 1 MiB by default).
	maxBatchBytes = 8 << 20
	// ackWait is how long a message a replica took and lost is held
	// before another indexes it; indexing it twice is harmless.
	ackWait = 30 * time.Second
	// setupTimeout bounds creating the consumer.
	setupTimeout = 10 * time.Second
)

// Table is what an Indexer needs of the rows it keeps.
type Table[R any] interface {
	// Decode reads the rows of one message, stored in the stream at
	// published: one, or several when a data plane batched them. An
	// error means no later try could index it either (it does not
	// decode, or its ids disagree with its subject): the message is
	// terminated.
	Decode(msg jetstream.Msg, published time.Time) ([]R, error)
	// Key is a row's id: messages carrying the same row are stored once.
	Key(R) uuid.UUID
	// LogAttrs identify a row in the log when it cannot be stored.
	LogAttrs(R) []any
	// Insert stores rows, skipping those already stored.
	Insert(ctx context.Context, rows ...R) error
	// PruneBatch deletes at most n rows older than cutoff, oldest first,
	// and says how many it deleted and whether it found n (so more may
	// follow).
	PruneBatch(ctx context.Context, cutoff time.Time, n int) (deleted int, full bool, err error)
}

// Indexer indexes one stream, or several, into one table and applies the
// retention. Stream, Consumer, One, Many, Table and Retention must be set;
// the other settings take their defaults when zero.
type Indexer[R any] struct {
	Table Table[R]
	// JS reaches the backbone. Nil runs the retention job alone: rows
	// indexed before still age out.
	JS       jetstream.JetStream
	Stream   string
	Consumer string
	// Description of the durable consumer, for `nats consumer info`.
	Description string
	// Also are further streams indexed into the same table, each through
	// a durable consumer of its own.
	Also []Feed
	// One and Many name a row in logs, as in "receipt" and "receipts".
	One, Many string
	Settings
	Log *slog.Logger
}

// Feed is a stream an Indexer copies into its table, and the durable
// consumer it reads it with.
type Feed struct {
	Stream, Consumer string
	// Description of the durable consumer, for `nats consumer info`.
	Description string
}

// Settings are what an operator or a test tunes on an indexer; zero values
// take the defaults, except Retention, without which the retention job does
// not run.
type Settings struct {
	// Retention is how long rows are kept, by their time.
	Retention time.Duration
	// RetentionEvery is how often the retention job runs; zero means
	// DefaultRetentionEvery. It also runs when the indexer starts.
	RetentionEvery time.Duration
	// BatchSize bounds the rows of one insert; zero means
	// DefaultBatchSize.
	BatchSize int
	// PruneBatchSize bounds the rows one statement of the retention job
	// deletes; zero means DefaultPruneBatchSize.
	PruneBatchSize int
	// CommitEvery is the least time between two inserts of one feed;
	// zero means DefaultCommitEvery, a negative value no wait.
	CommitEvery time.Duration
	// RetryDelay is how long the indexer waits after a failure; zero
	// means DefaultRetryDelay.
	RetryDelay time.Duration
	// MaxBytes bounds the bytes of the rows kept, as a SizedTable counts
	// them; past it the retention job deletes the oldest rows, expendable
	// ones first. Zero means no bound.
	MaxBytes int64
	// MaxExpendableBytes bounds the bytes of the expendable rows alone;
	// past it the retention job deletes the oldest of them. Zero means no
	// bound but MaxBytes.
	MaxExpendableBytes int64
}

// Run indexes and prunes until ctx is done. Failures to reach JetStream or
// the database are logged and retried. The streams are created by the data
// planes: until one has, Run waits for the stream.
func (ix *Indexer[R]) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { ix.pruneLoop(ctx) })
	if ix.JS != nil {
		for _, f := range ix.feeds() {
			wg.Go(func() { ix.consumeLoop(ctx, f) })
		}
	}
	wg.Wait()
}

// feeds are the streams indexed: Stream, then Also.
func (ix *Indexer[R]) feeds() []Feed {
	return append([]Feed{{Stream: ix.Stream, Consumer: ix.Consumer, Description: ix.Description}}, ix.Also...)
}

func (ix *Indexer[R]) log() *slog.Logger {
	l := ix.Log
	if l == nil {
		l = slog.Default()
	}
	return l.With("component", ix.Many+"-indexer")
}

func (ix *Indexer[R]) batchSize() int {
	if ix.BatchSize > 0 {
		return ix.BatchSize
	}
	return DefaultBatchSize
}

func (ix *Indexer[R]) commitEvery() time.Duration {
	switch {
	case ix.CommitEvery < 0:
		return 0
	case ix.CommitEvery == 0:
		return DefaultCommitEvery
	}
	return ix.CommitEvery
}

func (ix *Indexer[R]) retryDelay() time.Duration {
	if ix.RetryDelay > 0 {
		return ix.RetryDelay
	}
	return DefaultRetryDelay
}

// errConsumeClosed means the consumer stopped on its own, for example
// because it was deleted.
var errConsumeClosed = errors.New("streamindex: consumer closed")

// consumeLoop keeps the consumer of a feed running until ctx is done.
func (ix *Indexer[R]) consumeLoop(ctx context.Context, f Feed) {
	waiting := false
	for {
		err := ix.consume(ctx, f)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			// Normal until the first data plane starts: say it once.
			if !waiting {
				ix.log().Info("waiting for the "+ix.Many+" stream, which the data planes create", "stream", f.Stream)
				waiting = true
			}
		case err != nil:
			ix.log().Warn(ix.Many+" consumer stopped; starting it again", "stream", f.Stream, "error", err)
		}
		if !sleep(ctx, ix.retryDelay()) {
			return
		}
	}
}

// consume pulls a feed's messages and indexes them in batches until ctx
// is done or the consumer stops.
func (ix *Indexer[R]) consume(ctx context.Context, f Feed) error {
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	cons, err := ix.JS.CreateOrUpdateConsumer(sctx, f.Stream, jetstream.ConsumerConfig{
		Durable:       f.Consumer,
		Description:   f.Description,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("consumer %s: %w", f.Consumer, err)
	}
	size := ix.batchSize()
	// The callback hands messages to this goroutine, which batches what
	// has arrived meanwhile: under load batches grow, and when idle a
	// message is indexed at once.
	msgs := make(chan jetstream.Msg, size)
	quit := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-quit:
			_ = m.Nak()
		}
	},
		jetstream.PullMaxMessagesWithBytesLimit(size, maxBatchBytes),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			ix.log().Warn(ix.Many+" consumer", "stream", f.Stream, "error", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", f.Consumer, err)
	}
	defer func() {
		cc.Stop()
		close(quit)
		// Hand back what was taken and not indexed, so another replica
		// has it now rather than after the ack wait.
		for {
			select {
			case m := <-msgs:
				_ = m.Nak()
			default:
				return
			}
		}
	}()
	every := ix.commitEvery()
	var last time.Time // when the last insert began
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cc.Closed():
			return errConsumeClosed
		case m := <-msgs:
			// What has arrived meanwhile joins m; too soon after the last
			// insert, so does what arrives until CommitEvery has passed
			// since it.
			batch := gather(ctx, m, msgs, size, every-time.Since(last))
			last = time.Now()
			ix.index(ctx, batch)
		}
	}
}

// gather is first and the messages that join it from msgs, up to size of
// them or maxBatchBytes: those already waiting, and for wait (when
// positive) those that arrive meanwhile.
func gather(ctx context.Context, first jetstream.Msg, msgs <-chan jetstream.Msg, size int, wait time.Duration) []jetstream.Msg {
	batch, bytes := []jetstream.Msg{first}, len(first.Data())
	var until <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		until = t.C
	}
	for len(batch) < size && bytes < maxBatchBytes {
		var m jetstream.Msg
		if until == nil {
			select {
			case m = <-msgs:
			default:
				return batch
			}
		} else {
			select {
			case m = <-msgs:
			case <-until:
				return batch
			case <-ctx.Done():
				return batch
			}
		}
		batch = append(batch, m)
		bytes += len(m.Data())
	}
	return batch
}

// pending is one row to insert and the messages that carried it: a row
// published twice may arrive twice in one batch, in one message or two.
type pending[R any] struct {
	row  R
	msgs []*carrier
}

// carrier is a message being indexed: acked once all its rows are stored,
// handed back once if one of them is not.
type carrier struct {
	msg     jetstream.Msg
	waiting int // rows not stored yet
	settled bool
}

// stored counts one of the message's rows as stored, acking the message
// with its last.
func (c *carrier) stored() {
	c.waiting--
	if c.waiting == 0 && !c.settled {
		c.settled = true
		// A lost ack only means the rows come back and are found
		// already indexed.
		_ = c.msg.Ack()
	}
}

// failed hands the message back to be delivered again after delay: its
// rows stored meanwhile are found already indexed then.
func (c *carrier) failed(delay time.Duration) {
	if !c.settled {
		c.settled = true
		_ = c.msg.NakWithDelay(delay)
	}
}

// index decodes and inserts a batch, then settles each message: acked once
// its rows are stored, terminated when it is malformed, and handed back
// with a delay when an insert of one of its rows failed.
func (ix *Indexer[R]) index(ctx context.Context, msgs []jetstream.Msg) {
	var items []*pending[R]
	byID := map[uuid.UUID]*pending[R]{}
	for _, m := range msgs {
		published := time.Now()
		md, err := m.Metadata()
		if err == nil {
			published = md.Timestamp
		}
		rows, err := ix.Table.Decode(m, published)
		if err == nil && len(rows) == 0 {
			err = ErrNoRows
		}
		if err != nil {
			var seq uint64
			if md != nil {
				seq = md.Sequence.Stream
			}
			ix.log().Error(ix.One+" cannot be indexed; dropped", "subject", m.Subject(), "seq", seq, "error", err)
			_ = m.TermWithReason("malformed " + ix.One)
			continue
		}
		c := &carrier{msg: m, waiting: len(rows)}
		for _, row := range rows {
			if p, ok := byID[ix.Table.Key(row)]; ok {
				p.msgs = append(p.msgs, c)
				continue
			}
			p := &pending[R]{row: row, msgs: []*carrier{c}}
			byID[ix.Table.Key(row)] = p
			items = append(items, p)
		}
	}
	// A message may carry hundreds of rows: the inserts keep to
	// BatchSize rows each, whatever the messages held.
	for len(items) > 0 {
		n := min(len(items), ix.batchSize())
		ix.insert(ctx, items[:n])
		items = items[n:]
	}
}

// insert stores rows in one insert, or one by one when that fails, and
// counts each stored row in the messages that carried it.
func (ix *Indexer[R]) insert(ctx context.Context, items []*pending[R]) {
	rows := make([]R, len(items))
	for i, p := range items {
		rows[i] = p.row
	}
	err := ix.Table.Insert(ctx, rows...)
	if err == nil {
		for _, p := range items {
			stored(p.msgs)
		}
		return
	}
	if len(items) > 1 && ctx.Err() == nil {
		ix.log().Warn(ix.One+" batch not indexed; indexing one by one", "count", len(items), "error", err)
	}
	// One row the database refuses must not hold up the others.
	for _, p := range items {
		if err := ix.Table.Insert(ctx, p.row); err != nil {
			if ctx.Err() == nil {
				ix.log().Error(ix.One+" not indexed; retrying", append(ix.Table.LogAttrs(p.row), "error", err)...)
			}
			for _, c := range p.msgs {
				c.failed(ix.retryDelay())
			}
			continue
		}
		stored(p.msgs)
	}
}

// stored counts a row as stored in each message that carried it.
func stored(cs []*carrier) {
	for _, c := range cs {
		c.stored()
	}
}

// sleep waits for d or until ctx is done; false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
