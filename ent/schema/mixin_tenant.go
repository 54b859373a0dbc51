package schema

import (
	"context"
	"fmt"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"

	"entgo.io/ent/privacy"
	"github.com/plugshq/plugs/ent/rule"
	"github.com/plugshq/plugs/ent/viewer"
)

// TenantMixin makes an entity belong to a tenant. Its privacy policy lets a
// tenant viewer see and change only its own rows, and its hook stamps new
// rows with the viewer's tenant, so no handler has to remember either.
type TenantMixin struct {
	mixin.Schema
}

// Fields of the mixin.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("tenant_id", uuid.UUID{}).Immutable(),
	}
}

// Indexes of the mixin.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tenant_id")}
}

// Policy of the mixin.
func (TenantMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfSystem(),
			rule.FilterTenantRule(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfSystem(),
			rule.FilterTenantRule(),
		},
	}
}

// tenantSetter is the part of a generated mutation the hook needs.
type tenantSetter interface {
	TenantID() (uuid.UUID, bool)
	SetTenantID(uuid.UUID)
}

// Hooks of the mixin.
func (TenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if !m.Op().Is(ent.OpCreate) {
					return next.Mutate(ctx, m)
				}
				ts, ok := m.(tenantSetter)
				if !ok {
					return nil, fmt.Errorf("tenant mixin: unexpected mutation %T", m)
				}
				v, ok := viewer.FromContext(ctx)
				switch {
				case ok && !v.System:
					// A tenant creates rows only in its own tenant.
					ts.SetTenantID(v.TenantID)
				case ok && v.System:
					if id, set := ts.TenantID(); !set || id == uuid.Nil {
						return nil, fmt.Errorf("tenant mixin: system create of %s without tenant_id", m.Type())
					}
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}
