package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// ReceiptRollup counts a source's receipts per minute, outcome and cause.
// The receipts indexer adds to it in the transaction that stores the
// receipts, counting only those stored for the first time, so the console's
// charts and per-source totals read at most one row per minute, source,
// outcome and cause instead of every receipt. Rows age out with the
// receipts.
type ReceiptRollup struct {
	ent.Schema
}

// Mixin of ReceiptRollup.
func (ReceiptRollup) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields of ReceiptRollup.
func (ReceiptRollup) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("source_id", uuid.UUID{}).Immutable(),
		// The start of the minute, UTC.
		field.Time("minute").Immutable(),
		// The receipt's stored outcome (see Receipt.outcome).
		field.String("outcome").Immutable(),
		field.String("cause").Default("").Immutable(),
		field.Int64("count").Default(0),
	}
}

// Indexes of ReceiptRollup.
func (ReceiptRollup) Indexes() []ent.Index {
	return []ent.Index{
		// One row per bucket, the key upserts add to; it also serves a
		// source's totals over a window.
		index.Fields("source_id", "minute", "outcome", "cause").Unique(),
		// A tenant's minutes over a window, for the overview: covering,
		// so the day is read from the index alone.
		index.Fields("tenant_id", "minute", "outcome", "cause", "count"),
		// The retention job.
		index.Fields("minute"),
	}
}
