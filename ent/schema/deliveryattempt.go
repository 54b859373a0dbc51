package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// DeliveryAttempt is the index of one plugs.v1.DeliveryAttempt: a request
// a data plane made to a destination. The data planes publish attempts to
// backbone.AttemptsStream; the control plane's indexer copies them here so
// a destination's delivery log can be queried, and deletes them after the
// retention. Rows are written only by the indexer and never updated.
type DeliveryAttempt struct {
	ent.Schema
}

// Mixin of DeliveryAttempt. No time mixin: attempt_time is the time that
// matters, and rows never change.
func (DeliveryAttempt) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields of DeliveryAttempt.
func (DeliveryAttempt) Fields() []ent.Field {
	return []ent.Field{
		// The attempt's own id from the message, so indexing a redelivered
		// message again finds the row already there.
		field.UUID("id", newID()).Immutable(),
		field.UUID("destination_id", uuid.UUID{}).Immutable(),
		field.String("usage_event_id").Default("").Immutable(),
		field.String("provider_event_id").Default("").Immutable(),
		field.String("event_type").Default("").Immutable(),
		field.String("source_id").Default("").Immutable(),
		field.Int32("attempt").Default(0).Immutable(),
		// UTC, cut to microseconds (PostgreSQL's precision) so a page
		// token holds exactly the stored value on every dialect.
		field.Time("attempt_time").Immutable(),
		field.Int32("status_code").Default(0).Immutable(),
		field.Int64("latency_ms").Default(0).Immutable(),
		field.String("error").Default("").Immutable(),
		field.Enum("outcome").
			Values("unspecified", "delivered", "retrying", "dead_lettered").
			Immutable(),
		field.Time("next_retry_time").Optional().Nillable().Immutable(),
		field.String("data_plane").Default("").Immutable(),
		// Where the delivery was held in backbone.DeliveriesStream, so a
		// retry can queue the same delivery again; 0 when unknown.
		field.Uint64("delivery_seq").Default(0).Immutable(),
	}
}

// Indexes of DeliveryAttempt.
func (DeliveryAttempt) Indexes() []ent.Index {
	return []ent.Index{
		// A destination's log newest first, in page-token order.
		index.Fields("destination_id", "attempt_time", "id"),
		// "What happened to this event?"
		index.Fields("destination_id", "usage_event_id"),
		index.Fields("destination_id", "provider_event_id"),
		// The retention job deletes the oldest entries.
		index.Fields("attempt_time"),
	}
}
