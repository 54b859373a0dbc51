package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/plugshq/plugs/ent/rule"
)

// DataPlane is what the control planes know of one data-plane node: who it
// is, which configuration version it acknowledged, the last version it
// rejected and why, and when it was last heard from. Every control-plane
// replica writes the nodes connected to it, so any replica can list them
// all.
type DataPlane struct {
	ent.Schema
}

// Fields of DataPlane.
func (DataPlane) Fields() []ent.Field {
	return []ent.Field{
		// The node id the data plane reports.
		field.String("id").NotEmpty().MaxLen(200).Immutable(),
		field.String("zone").MaxLen(200).Default(""),
		field.String("build").MaxLen(200).Default(""),
		// The control-plane replica the node is connected to.
		field.String("replica").MaxLen(200).Default(""),
		field.Bool("connected").Default(false),
		field.Time("connect_time"),
		field.Time("last_seen_time"),
		// Revision of the configuration the node acknowledged; 0 when none.
		field.Int64("acked_revision").Default(0),
		// Last rejected revision, its error and when; 0 when none.
		field.Int64("nack_revision").Default(0),
		field.String("nack_error").MaxLen(2000).Default(""),
		field.Time("nack_time").Optional().Nillable(),
	}
}

// Indexes of DataPlane.
func (DataPlane) Indexes() []ent.Index {
	return []ent.Index{index.Fields("connected", "last_seen_time")}
}

// TenantColumns are what a tenant may read of a data plane: whether it is
// connected and which configuration versions it took or rejected, and when.
// Its id (a host or pod name), build, replica (a control plane's host) and
// the text of a rejection (which may quote another tenant's configuration)
// are for the operator.
var TenantColumns = []string{
	"zone", "connected", "connect_time", "last_seen_time", "acked_revision", "nack_revision", "nack_time",
}

// Policy of DataPlane: infrastructure shared by every tenant, written by the
// system only; a tenant reads TenantColumns.
func (DataPlane) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(), rule.AllowIfSystem(), rule.FilterColumnsRule(TenantColumns...),
		},
		Mutation: privacy.MutationPolicy{rule.DenyIfNoViewer(), rule.AllowIfSystem(), privacy.AlwaysDenyRule()},
	}
}
