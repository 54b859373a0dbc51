// Package deliveries keeps the control plane's delivery log: the Indexer
// copies every attempt the data planes publish to backbone.AttemptsStream
// into the database, where the API queries a destination's deliveries,
// and deletes them again once they are older than the retention.
package deliveries

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
	"github.com/plugshq/plugs/ent/deliveryattempt"
)

// ConsumerName is the durable consumer on backbone.AttemptsStream that
// every control-plane replica pulls from: JetStream hands each attempt to
// one of them.
const ConsumerName = "plugs-attempts-indexer"

// Indexer indexes delivery attempts and applies their retention. Its zero
// options take the defaults of package streamindex; set the fields before
// Run.
type Indexer struct {
	// Client is the control plane's database; the indexer acts as the
	// system viewer, across tenants.
	Client *ent.Client
	// JS reaches the backbone. Nil runs the retention job alone: attempts
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
// created by the data planes: until one has, Run waits for the attempts
// stream.
func (ix *Indexer) Run(ctx context.Context) error {
	if !ix.runner.Run(ctx, ix.indexer().Run) {
		return ErrRunning
	}
	return nil
}

// Stop ends Run and waits for it. Attempts taken but not yet indexed are
// handed back to the stream for another replica.
func (ix *Indexer) Stop() { ix.runner.Stop() }

// Prune deletes the attempts made before cutoff and returns how many it
// deleted, PruneBatchSize rows per statement, oldest first.
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
		Stream:      backbone.AttemptsStream,
		Consumer:    ConsumerName,
		Description: "Plugs control plane: delivery attempts into the queryable delivery log",
		One:         "delivery attempt",
		Many:        "delivery attempts",
		Settings:    settings,
		Log:         ix.Log,
	}
}

// table is the delivery log as the stream indexer sees it.
type table struct{ c *ent.Client }

func (t table) Decode(m jetstream.Msg, published time.Time) (Row, error) {
	return Decode(m.Subject(), m.Headers(), m.Data(), published)
}

func (table) Key(r Row) uuid.UUID { return r.ID }

func (table) LogAttrs(r Row) []any {
	return []any{"attempt_id", r.ID, "tenant_id", r.TenantID, "destination_id", r.DestinationID}
}

func (t table) Insert(ctx context.Context, rows ...Row) error { return Insert(ctx, t.c, rows...) }

// Insert stores attempts, skipping those already stored: an attempt's id
// is its own, so indexing a message again changes nothing. In the same
// transaction it adds the attempts stored now to the per-minute rollup
// (package stats).
func Insert(ctx context.Context, c *ent.Client, rows ...Row) error {
	return streamindex.InsertNew(ctx, c, rows, table{}.Key,
		func(ctx context.Context, tx *ent.Client, ids []uuid.UUID) ([]uuid.UUID, error) {
			return tx.DeliveryAttempt.Query().Where(deliveryattempt.IDIn(ids...)).IDs(ctx)
		},
		func(ctx context.Context, tx *ent.Client, rows []Row) error {
			builders := make([]*ent.DeliveryAttemptCreate, len(rows))
			counts := stats.DeliveryCounts{}
			for i, r := range rows {
				builders[i] = r.create(tx)
				outcome, _ := builders[i].Mutation().Outcome()
				counts.Add(r.TenantID, r.DestinationID, r.AttemptTime, string(outcome))
			}
			err := tx.DeliveryAttempt.CreateBulk(builders...).
				OnConflictColumns(deliveryattempt.FieldID).
				DoNothing().
				Exec(ctx)
			if err != nil {
				return err
			}
			return counts.Save(ctx, tx)
		})
}
