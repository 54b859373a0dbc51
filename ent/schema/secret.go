package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"
)

// Secret is a source's signing secret, sealed with AES-256-GCM under a master
// key named by key_id. The additional data binds tenant, source and secret
// id, so a ciphertext copied to another row does not open.
type Secret struct {
	ent.Schema
}

// Mixin of Secret.
func (Secret) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}, TenantMixin{}}
}

// Fields of Secret.
func (Secret) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.UUID("source_id", uuid.UUID{}).Immutable(),
		field.String("key_id").NotEmpty(),
		field.Bytes("ciphertext").Sensitive().NotEmpty(),
		field.String("fingerprint").NotEmpty(),
		field.Time("expire_time").Optional().Nillable(),
	}
}

// Edges of Secret.
func (Secret) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("source", Source.Type).
			Ref("secrets").
			Field("source_id").
			Unique().
			Required().
			Immutable(),
	}
}
