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
// transaction that stored the receipts. Rows are written in key order, so
// two replicas saving overlapping rows at once wait for each other instead
// of deadlocking.
func (c ReceiptCounts) Save(ctx context.Context, client *ent.Client) error {
	keys := slices.SortedFunc(maps.Keys(c), func(a, b ReceiptKey) int {
		return cmp.Or(
			bytes.Compare(a.SourceID[:], b.SourceID[:]),
			a.Minute.Compare(b.Minute),
			cmp.Compare(a.Outcome, b.Outcome),
			cmp.Compare(a.Cause, b.Cause),
		)
	})
	for _, k := range keys {
		n := c[k]
		err := client.ReceiptRollup.Create().
			SetTenantID(k.TenantID).
			SetSourceID(k.SourceID).
			SetMinute(k.Minute).
			SetOutcome(k.Outcome).
			SetCause(k.Cause).
			SetCount(n).
			OnConflictColumns(receiptrollup.FieldSourceID, receiptrollup.FieldMinute, receiptrollup.FieldOutcome, receiptrollup.FieldCause).
			AddCount(n).
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
	for _, k := range keys {
		n := c[k]
		err := client.DeliveryRollup.Create().
			SetTenantID(k.TenantID).
			SetDestinationID(k.DestinationID).
			SetMinute(k.Minute).
			SetOutcome(k.Outcome).
			SetCount(n).
			OnConflictColumns(deliveryrollup.FieldDestinationID, deliveryrollup.FieldMinute, deliveryrollup.FieldOutcome).
			AddCount(n).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("stats: delivery rollup: %w", err)
		}
	}
	return nil
}
