package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/field"

	"github.com/plugshq/plugs/ent/rule"
)

// DataPlaneToken is a credential a data plane presents on the
// configuration stream. An operator creates it with `plugs tokens create
// --dataplane`; like an API key only a SHA-256 of its secret part is stored
// and the prefix finds the row.
type DataPlaneToken struct {
	ent.Schema
}

// Mixin of DataPlaneToken.
func (DataPlaneToken) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Fields of DataPlaneToken.
func (DataPlaneToken) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.String("display_name").MaxLen(200).Default(""),
		field.String("prefix").Unique().Immutable().NotEmpty(),
		field.Bytes("hash").Sensitive().Immutable().NotEmpty(),
		field.Time("last_used_time").Optional().Nillable(),
	}
}

// Policy of DataPlaneToken: operators' business, system only.
func (DataPlaneToken) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
