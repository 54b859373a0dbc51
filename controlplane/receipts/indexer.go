// Package receipts keeps the control plane's index of receipts: the
// Indexer copies every receipt the data planes publish to
// backbone.ReceiptsStream into the database, where the API queries them,
// and deletes them again once they are older than the retention.
package receipts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
)

// ConsumerName is the durable consumer on backbone.ReceiptsStream that
// every control-plane replica pulls from: JetStream hands each receipt to
// one of them.
const ConsumerName = "plugs-receipts-indexer"

const (
	// DefaultRetentionEvery is how often old receipts are deleted.
	DefaultRetentionEvery = time.Hour
	// DefaultBatchSize bounds the receipts written in one insert.
	DefaultBatchSize = 100
	// DefaultPruneBatchSize bounds the receipts deleted in one statement.
	DefaultPruneBatchSize = 1000
	// maxBatchBytes bounds the raw receipts held at once, bodies included
	// (up to a source's limit each, 1 MiB by default).
	maxBatchBytes = 8 << 20
	// ackWait is how long a receipt a replica took and lost is held
	// before another indexes it; indexing it twice is harmless.
	ackWait = 30 * time.Second
	// defaultRetryDelay is the wait before setting up the consumer again,
	// and before a receipt whose insert failed is delivered again.
	defaultRetryDelay = 5 * time.Second
	// setupTimeout bounds creating the consumer.
	setupTimeout = 10 * time.Second
)

// Indexer indexes receipts and applies their retention. Its zero options
// take the defaults; set the fields before Run.
type Indexer struct {
	// Client is the control plane's database; the indexer acts as the
	// system viewer, across tenants.
	Client *ent.Client
	// JS reaches the backbone. Nil runs the retention job alone: receipts
	// indexed before still age out.
	JS jetstream.JetStream
	// Retention is how long receipts are kept, by receive time; zero means
	// backbone.DefaultReceiptRetention.
	Retention time.Duration
	// RetentionEvery is how often the retention job runs; zero means
	// DefaultRetentionEvery. It also runs when Run starts.
	RetentionEvery time.Duration
	// BatchSize bounds the receipts of one insert; zero means
	// DefaultBatchSize.
	BatchSize int
	// PruneBatchSize bounds the receipts one statement of the retention
	// job deletes; zero means DefaultPruneBatchSize.
	PruneBatchSize int
	// RetryDelay is how long the indexer waits after a failure; zero means
	// 5 s.
	RetryDelay time.Duration
	Log        *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Run indexes and prunes until ctx is done or Stop is called, and returns
// nil then; ErrRunning when the indexer is already running. Failures to
// reach JetStream or the database are logged and retried. The streams are
// created by the data planes: until one has, Run waits for the receipts
// stream.
func (ix *Indexer) Run(ctx context.Context) error {
	ix.mu.Lock()
	if ix.done != nil {
		ix.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	ix.cancel, ix.done = cancel, done
	ix.mu.Unlock()
	defer func() {
		cancel()
		ix.mu.Lock()
		ix.cancel, ix.done = nil, nil
		ix.mu.Unlock()
		close(done)
	}()

	var wg sync.WaitGroup
	wg.Go(func() { ix.pruneLoop(ctx) })
	if ix.JS != nil {
		wg.Go(func() { ix.consumeLoop(ctx) })
	}
	wg.Wait()
	return nil
}

// Stop ends Run and waits for it. Receipts taken but not yet indexed are
// handed back to the stream for another replica.
func (ix *Indexer) Stop() {
	ix.mu.Lock()
	cancel, done := ix.cancel, ix.done
	ix.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (ix *Indexer) log() *slog.Logger {
	if ix.Log != nil {
		return ix.Log.With("component", "receipts-indexer")
	}
	return slog.Default().With("component", "receipts-indexer")
}

func (ix *Indexer) batchSize() int {
	if ix.BatchSize > 0 {
		return ix.BatchSize
	}
	return DefaultBatchSize
}

func (ix *Indexer) retryDelay() time.Duration {
	if ix.RetryDelay > 0 {
		return ix.RetryDelay
	}
	return defaultRetryDelay
}

// errConsumeClosed means the consumer stopped on its own, for example
// because it was deleted.
var errConsumeClosed = errors.New("receipts: consumer closed")

// consumeLoop keeps a consumer running until ctx is done.
func (ix *Indexer) consumeLoop(ctx context.Context) {
	waiting := false
	for {
		err := ix.consume(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			// Normal until the first data plane starts: say it once.
			if !waiting {
				ix.log().Info("waiting for the receipts stream, which the data planes create", "stream", backbone.ReceiptsStream)
				waiting = true
			}
		case err != nil:
			ix.log().Warn("receipts consumer stopped; starting it again", "error", err)
		}
		if !sleep(ctx, ix.retryDelay()) {
			return
		}
	}
}

// consume pulls receipts and indexes them in batches until ctx is done or
// the consumer stops.
func (ix *Indexer) consume(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	cons, err := ix.JS.CreateOrUpdateConsumer(sctx, backbone.ReceiptsStream, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "Plugs control plane: receipts into the queryable index",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	size := ix.batchSize()
	// The callback hands messages to this goroutine, which batches what
	// has arrived meanwhile: under load batches grow, and when idle a
	// receipt is indexed at once.
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
			ix.log().Warn("receipts consumer", "error", err)
		}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", ConsumerName, err)
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
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cc.Closed():
			return errConsumeClosed
		case m := <-msgs:
			batch, bytes := []jetstream.Msg{m}, len(m.Data())
		fill:
			for len(batch) < size && bytes < maxBatchBytes {
				select {
				case m := <-msgs:
					batch = append(batch, m)
					bytes += len(m.Data())
				default:
					break fill
				}
			}
			ix.index(ctx, batch)
		}
	}
}

// pending is one receipt to insert and the messages that carried it: a
// receipt published twice may arrive twice in one batch.
type pending struct {
	row  Row
	msgs []jetstream.Msg
}

// index decodes and inserts a batch, then settles each message: acked once
// its receipt is stored, terminated when it is malformed, and handed back
// with a delay when the insert failed.
func (ix *Indexer) index(ctx context.Context, msgs []jetstream.Msg) {
	var items []*pending
	byID := map[uuid.UUID]*pending{}
	for _, m := range msgs {
		published := time.Now()
		md, err := m.Metadata()
		if err == nil {
			published = md.Timestamp
		}
		row, err := Decode(m.Subject(), m.Data(), published)
		if err != nil {
			var seq uint64
			if md != nil {
				seq = md.Sequence.Stream
			}
			ix.log().Error("receipt cannot be indexed; dropped", "subject", m.Subject(), "seq", seq, "error", err)
			_ = m.TermWithReason("malformed receipt")
			continue
		}
		if p, ok := byID[row.ID]; ok {
			p.msgs = append(p.msgs, m)
			continue
		}
		p := &pending{row: row, msgs: []jetstream.Msg{m}}
		byID[row.ID] = p
		items = append(items, p)
	}
	if len(items) == 0 {
		return
	}
	rows := make([]Row, len(items))
	for i, p := range items {
		rows[i] = p.row
	}
	err := Insert(ctx, ix.Client, rows...)
	if err == nil {
		for _, p := range items {
			ack(p.msgs)
		}
		return
	}
	if len(items) > 1 && ctx.Err() == nil {
		ix.log().Warn("receipt batch not indexed; indexing one by one", "count", len(items), "error", err)
	}
	// One receipt the database refuses must not hold up the others.
	for _, p := range items {
		if err := Insert(ctx, ix.Client, p.row); err != nil {
			if ctx.Err() == nil {
				ix.log().Error("receipt not indexed; retrying", "receipt_id", p.row.ID, "tenant_id", p.row.TenantID, "source_id", p.row.SourceID, "error", err)
			}
			for _, m := range p.msgs {
				_ = m.NakWithDelay(ix.retryDelay())
			}
			continue
		}
		ack(p.msgs)
	}
}

// ack acknowledges messages. A lost ack only means the receipt comes back
// and is found already indexed.
func ack(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.Ack()
	}
}

// Insert stores receipts, skipping those already stored: a receipt's id is
// its own, so indexing a message again changes nothing.
func Insert(ctx context.Context, c *ent.Client, rows ...Row) error {
	if len(rows) == 0 {
		return nil
	}
	builders := make([]*ent.ReceiptCreate, len(rows))
	for i, r := range rows {
		builders[i] = r.create(c)
	}
	return c.Receipt.CreateBulk(builders...).
		OnConflictColumns(receipt.FieldID).
		DoNothing().
		Exec(viewer.System(ctx))
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
