package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// ReplayOperation is a bulk replay of a source's receipts running in the
// background (plugs.v1.ReplayOperation). The filter is stored as
// deterministic protobuf bytes of plugs.v1.ReplayReceiptsRequest. The
// cursor is the last receipt replayed, in the order the operation walks
// them, so a control plane that restarts resumes where it stopped.
type ReplayOperation struct {
	ent.Schema
}

// Mixin of ReplayOperation.
func (ReplayOperation) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}, TenantMixin{}}
}

// Fields of ReplayOperation.
func (ReplayOperation) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.UUID("source_id", uuid.UUID{}).Immutable(),
		field.Bytes("request").Immutable(),
		// Receipts received before this are replayed; the replays' own
		// receipts come after it.
		field.Time("cutoff_time").Immutable(),
		field.Enum("state").Values("running", "succeeded", "failed", "cancelled").Default("running"),
		field.Int32("total_count").Default(0),
		field.Int32("processed_count").Default(0),
		field.Int32("accepted_count").Default(0),
		field.Int32("duplicate_count").Default(0),
		field.Int32("filtered_count").Default(0),
		field.Int32("rejected_count").Default(0),
		field.Int32("failed_count").Default(0),
		field.String("error").Default(""),
		// The last receipt replayed (receive_time, id), in the walk's
		// order; unset before the first.
		field.Time("cursor_time").Optional().Nillable(),
		field.UUID("cursor_id", uuid.UUID{}).Optional().Nillable(),
		// The control plane replica running it, and when it last wrote
		// progress: a replica that finds a running operation unheard of
		// for a while takes it over.
		field.String("owner").Default(""),
		field.Time("heartbeat_time").Optional().Nillable(),
		field.Time("end_time").Optional().Nillable(),
	}
}

// Indexes of ReplayOperation.
func (ReplayOperation) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("source_id", "id"),
		index.Fields("state"),
	}
}
