// Package receipts keeps the control plane's index of receipts: the
// Indexer copies every receipt the data planes publish to
// backbone.ReceiptsStream into the database, where the API queries them,
// and deletes them again once they are older than the retention.
package receipts

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/migrate"
)

// ConsumerName is the durable consumer on backbone.ReceiptsStream that
// every control-plane replica pulls from: JetStream hands each receipt to
// one of them.
const ConsumerName = "plugs-receipts-indexer"

// UnverifiedConsumerName is the durable consumer on
// backbone.UnverifiedReceiptsStream, the receipts of requests that did not
// pass verification, indexed into the same table.
const UnverifiedConsumerName = "plugs-unverified-receipts-indexer"

const (
	// DefaultRetentionEvery is how often old receipts are deleted.
	DefaultRetentionEvery = streamindex.DefaultRetentionEvery
	// DefaultBatchSize bounds the receipts written in one insert.
	DefaultBatchSize = streamindex.DefaultBatchSize
	// DefaultPruneBatchSize bounds the receipts deleted in one statement.
	DefaultPruneBatchSize = streamindex.DefaultPruneBatchSize
)

// Indexer indexes receipts and applies their retention. Its zero options
// take the defaults; set the fields before Run. A zero Retention means
// backbone.DefaultReceiptRetention, the stream's own. The byte limits
// count each receipt's encoded size; the receipts of unverified requests
// are the expendable ones.
type Indexer = streamindex.Service[Row, kind]

// kind is what sets the receipts' indexer apart.
type kind struct{}

func (kind) Spec() streamindex.Spec {
	return streamindex.Spec{
		Stream:           backbone.ReceiptsStream,
		Consumer:         ConsumerName,
		Description:      "Plugs control plane: receipts into the queryable index",
		One:              "receipt",
		Many:             "receipts",
		DefaultRetention: backbone.DefaultReceiptRetention,
		ErrRunning:       ErrRunning,
		Also: []streamindex.Feed{{Stream: backbone.UnverifiedReceiptsStream, Consumer: UnverifiedConsumerName,
			Description: "Plugs control plane: receipts of unverified requests into the queryable index"}},
	}
}

func (kind) Table(db *store.DB) streamindex.Table[Row] { return table{db} }

// table is the receipts table as the stream indexer sees it.
type table struct{ db *store.DB }

func (t table) Decode(m jetstream.Msg, published time.Time) ([]Row, error) {
	return DecodeMsg(m.Subject(), m.Headers(), m.Data(), published)
}

func (table) Key(r Row) uuid.UUID { return r.ID }

func (table) LogAttrs(r Row) []any {
	return []any{"receipt_id", r.ID, "tenant_id", r.TenantID, "source_id", r.SourceID}
}

func (t table) Insert(ctx context.Context, rows ...Row) error { return Insert(ctx, t.db, rows...) }

// Insert stores receipts, skipping those already stored: a receipt's id is
// its own, so indexing a message again changes nothing. In the same
// transaction it adds the receipts stored now to the per-minute rollup
// (package stats), so the counts follow the rows.
func Insert(ctx context.Context, db *store.DB, rows ...Row) error {
	return streamindex.InsertNew(ctx, db, migrate.ReceiptsTable, rows, table{}.Key,
		func(tx *ent.Client, r Row) ent.Mutation { return r.create(tx).Mutation() },
		func(ctx context.Context, tx *ent.Client, rows []Row) error {
			counts := stats.ReceiptCounts{}
			for _, r := range rows {
				counts.Add(r.TenantID, r.SourceID, r.ReceiveTime, string(r.outcome()), r.cause())
			}
			return counts.Save(ctx, tx)
		})
}
