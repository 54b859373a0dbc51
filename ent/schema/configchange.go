package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent/rule"
)

// ConfigChange is the revision log: one row per configuration change of a
// source or a destination, written in the same transaction as the change.
// Its auto-increment id is the configuration revision; data planes are
// brought from one revision to the next by replaying the log. kind says which
// of source_id and destination_id names the changed resource; the other is
// NULL.
type ConfigChange struct {
	ent.Schema
}

// Fields of ConfigChange.
func (ConfigChange) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id").Immutable(),
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
		// Rows written before destinations existed are source changes.
		field.Enum("kind").Values("source", "destination").Default("source").Immutable(),
		// Not Nillable, so readers of source changes keep a plain UUID; a
		// destination change reads as uuid.Nil here.
		field.UUID("source_id", uuid.UUID{}).Optional().Immutable(),
		field.UUID("destination_id", uuid.UUID{}).Optional().Immutable(),
		field.Enum("op").Values("upsert", "delete").Immutable(),
		field.Time("create_time").Default(nowUTC).Immutable(),
	}
}

// Indexes of ConfigChange.
func (ConfigChange) Indexes() []ent.Index {
	// tenant_id, id: a tenant's newest change, for its view of the data
	// planes.
	return []ent.Index{index.Fields("source_id"), index.Fields("destination_id"), index.Fields("tenant_id", "id")}
}

// Policy of ConfigChange: the log spans tenants, so a tenant reads its own
// changes only, as the tenant mixin's rows; writes come from the revision
// hook acting for the system.
func (ConfigChange) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem(), rule.FilterTenantRule()},
		Mutation: privacy.MutationPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
