// Package stats keeps the per-minute rollups of receipts and delivery
// attempts and reads the aggregates the console shows from them.
//
// The receipts and delivery-log indexers add to a rollup in the
// transaction that stores the rows, counting only rows stored for the first
// time: a message indexed twice is counted once, and a failed insert counts
// nothing. Reading a day of webhooks then costs one row per minute, source,
// outcome and cause that saw any, at most 1,440 per source and outcome
// pair, whether the day held a thousand receipts or a million.
package stats

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryrollup"
	"github.com/plugshq/plugs/ent/receiptrollup"
)

// Bucket is the width of a rollup row.
const Bucket = time.Minute

// bucketOf is the start of t's minute, UTC.
func bucketOf(t time.Time) time.Time { return t.UTC().Truncate(Bucket) }

// ReceiptKey is one row of the receipt rollup.
type ReceiptKey struct {
	TenantID, SourceID uuid.UUID
	Minute             time.Time
	Outcome, Cause     string
}

// ReceiptCounts gathers receipts by rollup row before Save adds them.
type ReceiptCounts map[ReceiptKey]int64

// Add counts one receipt received at t.
func (c ReceiptCounts) Add(tenantID, sourceID uuid.UUID, t time.Time, outcome, cause string) {
	c[ReceiptKey{TenantID: tenantID, SourceID: sourceID, Minute: bucketOf(t), Outcome: outcome, Cause: cause}]++
}

// Save adds the counts to the rollup through client, which should be the
// transaction that stored the receipts, with multi-row upserts: a batch
// of receipts spread over thousands of sources costs a few statements, not
// one per source and minute. Rows are written in key order, so two
// replicas saving overlapping rows at once wait for each other instead of
// deadlocking.
func (c ReceiptCounts) Save(ctx context.Context, client *ent.Client) error {
	keys := slices.SortedFunc(maps.Keys(c), func(a, b ReceiptKey) int {
		return cmp.Or(
			bytes.Compare(a.SourceID[:], b.SourceID[:]),
			a.Minute.Compare(b.Minute),
			cmp.Compare(a.Outcome, b.Outcome),
			cmp.Compare(a.Cause, b.Cause),
		)
	})
	for chunk := range slices.Chunk(keys, maxUpsertRows) {
		rows := make([]*ent.ReceiptRollupCreate, len(chunk))
		for i, k := range chunk {
			rows[i] = client.ReceiptRollup.Create().
				SetTenantID(k.TenantID).
				SetSourceID(k.SourceID).
				SetMinute(k.Minute).
				SetOutcome(k.Outcome).
				SetCause(k.Cause).
				SetCount(c[k])
		}
		err := client.ReceiptRollup.CreateBulk(rows...).
			OnConflict(
				sql.ConflictColumns(receiptrollup.FieldSourceID, receiptrollup.FieldMinute, receiptrollup.FieldOutcome, receiptrollup.FieldCause),
				addExcluded(receiptrollup.FieldCount),
			).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("stats: receipt rollup: %w", err)
		}
	}
	return nil
}

// DeliveryKey is one row of the delivery rollup.
type DeliveryKey struct {
	TenantID, DestinationID uuid.UUID
	Minute                  time.Time
	Outcome                 string
}

// DeliveryCounts gathers delivery attempts by rollup row before Save adds
// them.
type DeliveryCounts map[DeliveryKey]int64

// Add counts one attempt made at t.
func (c DeliveryCounts) Add(tenantID, destinationID uuid.UUID, t time.Time, outcome string) {
	c[DeliveryKey{TenantID: tenantID, DestinationID: destinationID, Minute: bucketOf(t), Outcome: outcome}]++
}

// Save adds the counts to the rollup through client, as ReceiptCounts.Save
// does.
func (c DeliveryCounts) Save(ctx context.Context, client *ent.Client) error {
	keys := slices.SortedFunc(maps.Keys(c), func(a, b DeliveryKey) int {
		return cmp.Or(
			bytes.Compare(a.DestinationID[:], b.DestinationID[:]),
			a.Minute.Compare(b.Minute),
			cmp.Compare(a.Outcome, b.Outcome),
		)
	})
	for chunk := range slices.Chunk(keys, maxUpsertRows) {
		rows := make([]*ent.DeliveryRollupCreate, len(chunk))
		for i, k := range chunk {
			rows[i] = client.DeliveryRollup.Create().
				SetTenantID(k.TenantID).
				SetDestinationID(k.DestinationID).
				SetMinute(k.Minute).
				SetOutcome(k.Outcome).
				SetCount(c[k])
		}
		err := client.DeliveryRollup.CreateBulk(rows...).
			OnConflict(
				sql.ConflictColumns(deliveryrollup.FieldDestinationID, deliveryrollup.FieldMinute, deliveryrollup.FieldOutcome),
				addExcluded(deliveryrollup.FieldCount),
			).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("stats: delivery rollup: %w", err)
		}
	}
	return nil
}

// maxUpsertRows bounds the rows of one upsert statement: seven values a
// row stay well under SQLite's 32,766 bound variables.
const maxUpsertRows = 1000

// addExcluded resolves a conflicting row of a multi-row upsert by adding
// the count the statement brought (EXCLUDED) to the stored one: each row
// adds its own count, which a constant increment could not. Keys are
// unique within a Save, so no statement updates a row twice, which
// PostgreSQL refuses.
func addExcluded(column string) sql.ConflictOption {
	return sql.ResolveWith(func(u *sql.UpdateSet) {
		u.Set(column, sql.ExprFunc(func(b *sql.Builder) {
			b.WriteString(u.Table().C(column)).WriteString(" + excluded.").Ident(column)
		}))
	})
}
