package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// DeliveryRollup counts a destination's delivery attempts per minute and
// outcome, kept by the delivery-log indexer as ReceiptRollup is kept by the
// receipts indexer.
type DeliveryRollup struct {
	ent.Schema
}

// Mixin of DeliveryRollup.
func (DeliveryRollup) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields of DeliveryRollup.
func (DeliveryRollup) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("destination_id", uuid.UUID{}).Immutable(),
		// The start of the minute, UTC.
		field.Time("minute").Immutable(),
		// The attempt's stored outcome (see DeliveryAttempt.outcome).
		field.String("outcome").Immutable(),
		field.Int64("count").Default(0),
	}
}

// Indexes of DeliveryRollup.
func (DeliveryRollup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("destination_id", "minute", "outcome").Unique(),
		// A tenant's minutes over a window, covering as ReceiptRollup's.
		index.Fields("tenant_id", "minute", "destination_id", "outcome", "count"),
		index.Fields("minute"),
	}
}
