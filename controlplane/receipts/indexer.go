// Package receipts keeps the control plane's index of receipts: the
// Indexer copies every receipt the data planes publish to
// backbone.ReceiptsStream into the database, where the API queries them,
// and deletes them again once they are older than the retention.
package receipts

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
)

// ConsumerName is the durable consumer on backbone.ReceiptsStream that
// every control-plane replica pulls from: JetStream hands each receipt to
// one of them.
const ConsumerName = "plugs-receipts-indexer"

const (
	// DefaultRetentionEvery is how often old receipts are deleted.
	DefaultRetentionEvery = streamindex.DefaultRetentionEvery
	// DefaultBatchSize bounds the receipts written in one insert.
	DefaultBatchSize = streamindex.DefaultBatchSize
	// DefaultPruneBatchSize bounds the receipts deleted in one statement.
	DefaultPruneBatchSize = streamindex.DefaultPruneBatchSize
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
	// Settings tune the indexer; a zero Retention means
	// backbone.DefaultReceiptRetention, the stream's own.
	streamindex.Settings
	Log *slog.Logger

	runner streamindex.Runner
}

// Run indexes and prunes until ctx is done or Stop is called, and returns
// nil then; ErrRunning when the indexer is already running. Failures to
// reach JetStream or the database are logged and retried. The streams are
// created by the data planes: until one has, Run waits for the receipts
// stream.
func (ix *Indexer) Run(ctx context.Context) error {
	if !ix.runner.Run(ctx, ix.indexer().Run) {
		return ErrRunning
	}
	return nil
}

// Stop ends Run and waits for it. Receipts taken but not yet indexed are
// handed back to the stream for another replica.
func (ix *Indexer) Stop() { ix.runner.Stop() }

// Prune deletes the receipts received before cutoff and returns how many
// it deleted, PruneBatchSize rows per statement, oldest first.
func (ix *Indexer) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	return ix.indexer().Prune(ctx, cutoff)
}

func (ix *Indexer) indexer() *streamindex.Indexer[Row] {
	settings := ix.Settings
	if settings.Retention <= 0 {
		settings.Retention = backbone.DefaultReceiptRetention
	}
	return &streamindex.Indexer[Row]{
		Table:       table{ix.Client},
		JS:          ix.JS,
		Stream:      backbone.ReceiptsStream,
		Consumer:    ConsumerName,
		Description: "Plugs control plane: receipts into the queryable index",
		One:         "receipt",
		Many:        "receipts",
		Settings:    settings,
		Log:         ix.Log,
	}
}

// table is the receipts table as the stream indexer sees it.
type table struct{ c *ent.Client }

func (t table) Decode(m jetstream.Msg, published time.Time) (Row, error) {
	return Decode(m.Subject(), m.Data(), published)
}

func (table) Key(r Row) uuid.UUID { return r.ID }

func (table) LogAttrs(r Row) []any {
	return []any{"receipt_id", r.ID, "tenant_id", r.TenantID, "source_id", r.SourceID}
}

func (t table) Insert(ctx context.Context, rows ...Row) error { return Insert(ctx, t.c, rows...) }

// Insert stores receipts, skipping those already stored: a receipt's id is
// its own, so indexing a message again changes nothing. In the same
// transaction it adds the receipts stored now to the per-minute rollup
// (package stats), so the counts follow the rows.
func Insert(ctx context.Context, c *ent.Client, rows ...Row) error {
	return streamindex.InsertNew(ctx, c, rows, table{}.Key,
		func(ctx context.Context, tx *ent.Client, ids []uuid.UUID) ([]uuid.UUID, error) {
			return tx.Receipt.Query().Where(receipt.IDIn(ids...)).IDs(ctx)
		},
		func(ctx context.Context, tx *ent.Client, rows []Row) error {
			builders := make([]*ent.ReceiptCreate, len(rows))
			counts := stats.ReceiptCounts{}
			for i, r := range rows {
				builders[i] = r.create(tx)
				outcome, _ := builders[i].Mutation().Outcome()
				cause, _ := builders[i].Mutation().Cause()
				counts.Add(r.TenantID, r.SourceID, r.ReceiveTime, string(outcome), cause)
			}
			err := tx.Receipt.CreateBulk(builders...).
				OnConflictColumns(receipt.FieldID).
				DoNothing().
				Exec(ctx)
			if err != nil {
				return err
			}
			return counts.Save(ctx, tx)
		})
}
