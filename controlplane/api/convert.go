package api

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/source"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func statusToProto(s source.Status) plugsv1.Source_Status {
	if s == source.StatusDisabled {
		return plugsv1.Source_STATUS_DISABLED
	}
	return plugsv1.Source_STATUS_ACTIVE
}

func statusFromProto(s plugsv1.Source_Status) source.Status {
	if s == plugsv1.Source_STATUS_DISABLED {
		return source.StatusDisabled
	}
	return source.StatusActive
}

// sourceToProto renders a stored source for the API. Secrets show only
// their id, fingerprint and times.
func (s *Sources) sourceToProto(ctx context.Context, src *ent.Source, secrets []*ent.Secret) (*plugsv1.Source, error) {
	tpl, err := s.Catalog.Get(src.TemplateID)
	if err != nil {
		// A template removed from the binary: show the source with what
		// it stored rather than hiding it.
		tpl = &plugsv1.Template{}
	}
	eff, err := config.Resolve(src, tpl)
	if err != nil {
		return nil, err
	}
	out := &plugsv1.Source{
		Id:              src.ID.String(),
		DisplayName:     src.DisplayName,
		TemplateId:      src.TemplateID,
		MetricId:        src.MetricID,
		SignatureScheme: eff.Scheme,
		EventFilter:     eff.Filter,
		FieldMappings:   eff.Mappings,
		Status:          statusToProto(src.Status),
		MaxBodyBytes:    src.MaxBodyBytes,
		DedupWindow:     durationpb.New(time.Duration(src.DedupWindowSeconds) * time.Second),
		RateLimit:       config.RateLimit(src),
		CreateTime:      timestamppb.New(src.CreateTime),
		UpdateTime:      timestamppb.New(src.UpdateTime),
		WebhookUrl:      s.WebhookURL(src.ID.String()),
		Revision:        src.Revision,
	}
	out.DataPlanesCurrent, out.DataPlanesConnected = s.Rollout.Counts(ctx, src.Revision)
	if s.Problems != nil {
		out.ConfigurationError = s.Problems.SourceError(out.Id)
	}
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b *ent.Secret) int { return b.CreateTime.Compare(a.CreateTime) })
	public := verify.PublicSecret(eff.Scheme)
	for _, sec := range secrets {
		info := secretInfo(sec)
		if public {
			info.PublicValue = s.publicValue(ctx, sec)
		}
		out.Secrets = append(out.Secrets, info)
	}
	return out, nil
}

// publicValue opens a secret the source's scheme makes public (a public
// key, a value requests carry) to show it back; one that does not open is
// left out, and the read still succeeds.
func (s *Sources) publicValue(ctx context.Context, sec *ent.Secret) string {
	if s.Keyring == nil {
		return ""
	}
	plain, err := s.Keyring.Open(sec.KeyID, sec.Ciphertext, secrets.Binding{
		TenantID: sec.TenantID.String(), SourceID: sec.SourceID.String(), SecretID: sec.ID.String(),
	})
	if err != nil {
		s.log().WarnContext(ctx, "a public signing key does not open", "secret_id", sec.ID, "error", err)
		return ""
	}
	return string(plain)
}
