package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Source is one configured webhook sender. Structured settings (signature
// scheme, event filter, field mappings) are stored as deterministic protobuf
// bytes of their plugs.v1 messages: the API message is the single schema.
type Source struct {
	ent.Schema
}

// Mixin of Source.
func (Source) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}, TenantMixin{}}
}

// Fields of Source.
func (Source) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		field.String("display_name").NotEmpty().MaxLen(200),
		field.String("template_id").NotEmpty(),
		field.String("metric_id").Default(""),
		field.Bytes("signature_scheme").Optional(),
		field.Bytes("event_filter").Optional(),
		field.Bytes("field_mappings").Optional(),
		field.Enum("status").Values("active", "disabled").Default("active"),
		field.Int64("max_body_bytes").Positive(),
		field.Int64("dedup_window_seconds").Positive(),
		// A token bucket per data plane; 0 requests per second means no
		// limit of the source's own.
		field.Float("rate_limit_per_second").Default(0),
		field.Int32("rate_limit_burst").Default(0),
		// Revision of the configuration change that last touched the
		// source; set by the revision hook.
		field.Int64("revision").Default(0),
	}
}

// Edges of Source.
func (Source) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("secrets", Secret.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
