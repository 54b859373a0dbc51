package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/source"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Snapshotter renders stored sources as the configuration data planes run.
type Snapshotter struct {
	Client  *ent.Client
	Catalog *templates.Catalog
	Keyring *secrets.Keyring
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Version renders a revision as a version_info string.
func Version(rev int64) string { return strconv.FormatInt(rev, 10) }

// ParseVersion reads a version_info string; -1 when it names no revision.
func ParseVersion(v string) int64 {
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil || rev < 0 {
		return -1
	}
	return rev
}

// SourceConfig resolves one source for a data plane. When the source
// cannot be built completely it returns a *BuildError together with the
// source as far as it could be built (nil when nothing usable could be):
// without the secrets that do not open, so a data plane that holds no
// earlier version fails closed with 401, never open. The cache withholds
// such a source, and data planes keep the version they hold. A disabled
// source travels without secrets: data planes only need to know it exists,
// to answer that it is disabled.
func (s *Snapshotter) SourceConfig(r *ent.Source) (*plugsv1.SourceConfig, error) {
	tpl, err := s.Catalog.Get(r.TemplateID)
	if err != nil {
		if len(r.SignatureScheme) == 0 || len(r.FieldMappings) == 0 {
			return nil, &BuildError{Cause: CauseTemplateUnknown,
				Err: fmt.Errorf("source %s: template %q is not one this control plane knows", r.ID, r.TemplateID)}
		}
		tpl = &plugsv1.Template{} // everything it would give is overridden
	}
	eff, err := Resolve(r, tpl)
	if err != nil {
		return nil, &BuildError{Cause: CauseSettingUnreadable, Err: fmt.Errorf("source %s: %w", r.ID, err)}
	}
	sc := &plugsv1.SourceConfig{
		Id:              r.ID.String(),
		TenantId:        r.TenantID.String(),
		TemplateId:      r.TemplateID,
		MetricId:        r.MetricID,
		Status:          plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: eff.Scheme,
		EventFilter:     eff.Filter,
		FieldMappings:   eff.Mappings,
		MaxBodyBytes:    r.MaxBodyBytes,
		DedupWindow:     durationpb.New(time.Duration(r.DedupWindowSeconds) * time.Second),
		Revision:        r.Revision,
		RateLimit:       RateLimit(r),
	}
	if r.Status == source.StatusDisabled {
		sc.Status = plugsv1.Source_STATUS_DISABLED
		return sc, nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var failed *BuildError
	for _, sec := range r.Edges.Secrets {
		if sec.ExpireTime != nil && !sec.ExpireTime.After(now()) {
			continue
		}
		plain, err := s.Keyring.Open(sec.KeyID, sec.Ciphertext, secrets.Binding{
			TenantID: sec.TenantID.String(), SourceID: sec.SourceID.String(), SecretID: sec.ID.String(),
		})
		if err != nil {
			if failed == nil {
				failed = keyError(fmt.Sprintf("source %s: signing secret %s", r.ID, sec.ID), sec.KeyID, err)
			}
			continue
		}
		ss := &plugsv1.SigningSecret{Id: sec.ID.String(), Value: plain}
		if sec.ExpireTime != nil {
			ss.ExpireTime = timestamppb.New(*sec.ExpireTime)
		}
		sc.Secrets = append(sc.Secrets, ss)
	}
	if failed != nil {
		return sc, failed
	}
	return sc, nil
}

// keyError describes a secret that did not open, naming the key, never
// the secret.
func keyError(what, keyID string, err error) *BuildError {
	if errors.Is(err, secrets.ErrUnknownKey) {
		return &BuildError{Cause: CauseKeyUnknown,
			Err: fmt.Errorf("%s is sealed under master key %s, which this control plane does not hold: %w", what, keyID, err)}
	}
	return &BuildError{Cause: CauseDoesNotOpen, Err: fmt.Errorf("%s does not open under master key %s: %w", what, keyID, err)}
}

func (s *Snapshotter) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// RateLimit is a source's token bucket as the API and data planes see it;
// nil when the source has no limit of its own.
func RateLimit(r *ent.Source) *plugsv1.RateLimit {
	if r.RateLimitPerSecond <= 0 {
		return nil
	}
	return &plugsv1.RateLimit{RequestsPerSecond: r.RateLimitPerSecond, Burst: r.RateLimitBurst}
}
