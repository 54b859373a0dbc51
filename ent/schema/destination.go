package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// Destination is an endpoint of a tenant's billing pipeline that usage
// events are forwarded to. The shared key is sealed like a source's secret
// (secrets.DestinationBinding), and the retry policy is stored as
// deterministic protobuf bytes of plugs.v1.RetryPolicy, so the API message
// stays the single schema.
type Destination struct {
	ent.Schema
}

// Mixin of Destination.
func (Destination) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}, TenantMixin{}}
}

// Fields of Destination.
func (Destination) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", newID()).Default(newIDFunc).Immutable(),
		// Runes, as the API counts them.
		field.String("display_name").NotEmpty().MaxRuneLen(200),
		field.String("url").NotEmpty().MaxLen(2048),
		// The shared key, sealed under the master key named by key_id.
		field.Bytes("shared_key_ciphertext").Sensitive().NotEmpty(),
		field.String("key_id").NotEmpty(),
		field.String("shared_key_fingerprint").NotEmpty(),
		field.Enum("signature_style").Values("standard_webhooks", "hub").Default("standard_webhooks"),
		// The hub style's header; empty for Standard Webhooks, whose
		// headers are fixed.
		field.String("signature_header").Default(""),
		field.Enum("status").Values("active", "paused").Default("active"),
		// Sources routed here, as canonical UUID strings; empty routes
		// every source of the tenant, and the nil UUID alone routes none.
		// Deleting a source takes it out of every list in the same
		// transaction, and a list it would leave empty gets the nil UUID
		// instead, so the route never widens to every source.
		field.JSON("source_ids", []string{}).Optional(),
		// nil means every setting takes its default.
		field.Bytes("retry_policy").Optional(),
		field.Int64("timeout_ms").Positive(),
		field.Int("max_concurrency").Positive(),
		// Revision of the configuration change that last touched the
		// destination; set by the revision hook.
		field.Int64("revision").Default(0),
	}
}
