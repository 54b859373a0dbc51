package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/field"

	"github.com/plugshq/plugs/ent/rule"
)

// Tenant is a customer of Plugs; every other row belongs to one.
type Tenant struct {
	ent.Schema
}

// Mixin of Tenant.
func (Tenant) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Fields of Tenant.
func (Tenant) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.String("name").NotEmpty().MaxLen(200),
	}
}

// Policy of Tenant: tenants see themselves; only the system creates or
// changes tenants.
func (Tenant) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfSystem(),
			rule.FilterOwnTenantRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfSystem(),
			rule.DenyMutation(),
		},
	}
}
