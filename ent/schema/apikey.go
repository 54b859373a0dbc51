package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// APIKey is a tenant's bearer token for the admin API. Only a SHA-256 of the
// token's secret part is stored; the prefix finds the row.
type APIKey struct {
	ent.Schema
}

// Mixin of APIKey.
func (APIKey) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}, TenantMixin{}}
}

// Fields of APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.String("display_name").MaxLen(200).Default(""),
		field.String("prefix").Unique().Immutable().NotEmpty(),
		field.Bytes("hash").Sensitive().Immutable().NotEmpty(),
		field.Time("last_used_time").Optional().Nillable(),
	}
}
