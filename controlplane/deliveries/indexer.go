// Package deliveries keeps the control plane's delivery log: the Indexer
// copies every attempt the data planes publish to backbone.AttemptsStream
// into the database, where the API queries a destination's deliveries,
// and deletes them again once they are older than the retention.
package deliveries

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

// ConsumerName is the durable consumer on backbone.AttemptsStream that
// every control-plane replica pulls from: JetStream hands each attempt to
// one of them.
const ConsumerName = "plugs-attempts-indexer"

// Indexer indexes delivery attempts and applies their retention. Its zero
// options take the defaults of package streamindex; set the fields before
// Run. A zero Retention means backbone.DefaultReceiptRetention, as the
// attempts stream keeps them as long as receipts.
type Indexer = streamindex.Service[Row, kind]

// kind is what sets the delivery log's indexer apart.
type kind struct{}

func (kind) Spec() streamindex.Spec {
	return streamindex.Spec{
		Stream:           backbone.AttemptsStream,
		Consumer:         ConsumerName,
		Description:      "Plugs control plane: delivery attempts into the queryable delivery log",
		One:              "delivery attempt",
		Many:             "delivery attempts",
		DefaultRetention: backbone.DefaultReceiptRetention,
		ErrRunning:       ErrRunning,
	}
}

func (kind) Table(db *store.DB) streamindex.Table[Row] { return table{db} }

// table is the delivery log as the stream indexer sees it.
type table struct{ db *store.DB }

func (t table) Decode(m jetstream.Msg, published time.Time) ([]Row, error) {
	return DecodeMsg(m.Subject(), m.Headers(), m.Data(), published)
}

func (table) Key(r Row) uuid.UUID { return r.ID }

func (table) LogAttrs(r Row) []any {
	return []any{"attempt_id", r.ID, "tenant_id", r.TenantID, "destination_id", r.DestinationID}
}

func (t table) Insert(ctx context.Context, rows ...Row) error { return Insert(ctx, t.db, rows...) }

// Insert stores attempts, skipping those already stored: an attempt's id
// is its own, so indexing a message again changes nothing. In the same
// transaction it adds the attempts stored now to the per-minute rollup
// (package stats).
func Insert(ctx context.Context, db *store.DB, rows ...Row) error {
	return streamindex.InsertNew(ctx, db, migrate.DeliveryAttemptsTable, rows, table{}.Key,
		func(tx *ent.Client, r Row) ent.Mutation { return r.create(tx).Mutation() },
		func(ctx context.Context, tx *ent.Client, rows []Row) error {
			counts := stats.DeliveryCounts{}
			for _, r := range rows {
				counts.Add(r.TenantID, r.DestinationID, r.AttemptTime, string(r.outcome()))
			}
			return counts.Save(ctx, tx)
		})
}
