package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Receipt is the index of one plugs.v1.Receipt: a request that named a
// known source, what became of it and why. The data planes publish receipts
// to backbone.ReceiptsStream; the control plane's indexer copies them here
// so they can be queried, and deletes them after the retention. Rows are
// written only by the indexer (the system viewer) and never updated.
type Receipt struct {
	ent.Schema
}

// ReceiptHeader is one request header of a receipt, kept in the order the
// data plane recorded it.
type ReceiptHeader struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// ReceiptItem is what became of one item of a batch (plugs.v1.ReceiptItem),
// kept in the order of the request.
type ReceiptItem struct {
	Index           int32  `json:"index"`
	Outcome         string `json:"outcome"`
	Cause           string `json:"cause,omitempty"`
	Detail          string `json:"detail,omitempty"`
	Field           string `json:"field,omitempty"`
	EventType       string `json:"event_type,omitempty"`
	ProviderEventID string `json:"provider_event_id,omitempty"`
	UsageEventID    string `json:"usage_event_id,omitempty"`
}

// Mixin of Receipt. No time mixin: receive_time is the time that matters,
// and rows never change.
func (Receipt) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}}
}

// Fields of Receipt.
func (Receipt) Fields() []ent.Field {
	return []ent.Field{
		// The receipt's own id from the message, not a new one: indexing a
		// redelivered message again then finds the row already there.
		field.UUID("id", newID()).Immutable(),
		field.UUID("source_id", uuid.UUID{}).Immutable(),
		// UTC, cut to microseconds (PostgreSQL's precision) so a page
		// token holds exactly the stored value on every dialect.
		field.Time("receive_time").Immutable(),
		field.Enum("outcome").
			Values("unspecified", "accepted", "duplicate", "filtered", "rejected", "handshake").
			Immutable(),
		field.String("cause").Default("").Immutable(),
		field.String("detail").Default("").Immutable(),
		field.String("field").Default("").Immutable(),
		field.String("event_type").Default("").Immutable(),
		field.String("provider_event_id").Default("").Immutable(),
		field.String("usage_event_id").Default("").Immutable(),
		field.Int32("status_code").Default(0).Immutable(),
		field.Int64("latency_ms").Default(0).Immutable(),
		field.Bool("replay").Default(false).Immutable(),
		field.String("data_plane").Default("").Immutable(),
		field.String("remote_address").Default("").Immutable(),
		field.String("method").Default("").Immutable(),
		field.String("request_uri").Default("").Immutable(),
		// Credentials were redacted by the data plane before publishing.
		field.JSON("headers", []ReceiptHeader{}).Optional().Immutable(),
		field.Bytes("body").Optional().Immutable(),
		field.Bool("body_truncated").Default(false).Immutable(),
		// A test event's request (plugs.v1.Receipt.test). Last, so the
		// column is added to a table of receipts in place.
		field.Bool("test").Default(false).Immutable(),
		// The whole body's length and, when body holds only its start,
		// its SHA-256 (hex).
		field.Int64("body_size").Default(0).Immutable(),
		field.String("body_sha256").Default("").Immutable(),
		// The request did not pass verification: anyone may have sent it,
		// and its receipt is the first to go when receipts outgrow their
		// byte limit.
		field.Bool("unverified").Default(false).Immutable(),
		// What the receipt counts against the index's byte limits: its
		// encoded size, body and headers included.
		field.Int64("size_bytes").Default(0).Immutable(),
		// A batch's items (plugs.v1.Receipt.items): how many it carried,
		// what became of those the receipt lists, and whether it left
		// some out.
		field.Int32("item_count").Default(0).Immutable(),
		field.JSON("items", []ReceiptItem{}).Optional().Immutable(),
		field.Bool("items_truncated").Default(false).Immutable(),
	}
}

// Indexes of Receipt.
func (Receipt) Indexes() []ent.Index {
	return []ent.Index{
		// A source's receipts newest first, in page-token order.
		index.Fields("source_id", "receive_time", "id"),
		// "What happened to this provider event?"
		index.Fields("source_id", "provider_event_id"),
		// The retention job deletes the oldest receipts of every source.
		index.Fields("receive_time"),
		// Over the byte limits, the oldest unverified receipts go first.
		index.Fields("unverified", "receive_time"),
	}
}
