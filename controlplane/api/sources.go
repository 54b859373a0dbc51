// Package api implements the control plane's gRPC services. The REST
// gateway calls the same services, so every rule here holds for both.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/secret"
	"github.com/plugshq/plugs/ent/source"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Sources implements plugs.v1.SourceService.
type Sources struct {
	plugsv1.UnimplementedSourceServiceServer

	Client  *ent.Client
	Catalog *templates.Catalog
	Keyring *secrets.Keyring
	// PublicIngestURL is the base URL providers reach the data planes at.
	PublicIngestURL string
	// Rollout counts the data planes running a source's revision; nil
	// leaves the counts at zero.
	Rollout *Rollout
	// TestEvents sends test events; nil answers FAILED_PRECONDITION.
	TestEvents *TestEvents
	// Problems says which sources cannot be built for data planes; nil
	// reports none.
	Problems ConfigProblems
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// WebhookURL is the ingest URL of a source.
func (s *Sources) WebhookURL(id string) string {
	return strings.TrimSuffix(s.PublicIngestURL, "/") + "/v1/ingest/webhook/" + id
}

func (s *Sources) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// updatablePaths are the top-level fields UpdateSource may change.
var updatablePaths = map[string]bool{
	"display_name": true, "template_id": true, "metric_id": true,
	"signature_scheme": true, "event_filter": true, "field_mappings": true,
	"status": true, "max_body_bytes": true, "dedup_window": true,
	"rate_limit": true,
}

// CreateSource implements plugs.v1.SourceService.
func (s *Sources) CreateSource(ctx context.Context, req *plugsv1.CreateSourceRequest) (*plugsv1.Source, error) {
	in := req.GetSource()
	if in == nil {
		return nil, invalid("source", "is required")
	}
	in = proto.Clone(in).(*plugsv1.Source)
	tpl, tplErr := s.Catalog.Get(in.GetTemplateId())
	if proto.Size(in.GetSignatureScheme()) == 0 {
		in.SignatureScheme = tpl.GetSignatureScheme()
	}
	if proto.Size(in.GetFieldMappings()) == 0 {
		in.FieldMappings = tpl.GetFieldMappings()
	}
	if in.GetStatus() == plugsv1.Source_STATUS_UNSPECIFIED {
		in.Status = plugsv1.Source_STATUS_ACTIVE
	}
	if in.GetMaxBodyBytes() == 0 {
		in.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if in.GetDedupWindow() == nil {
		in.DedupWindow = durationpb.New(DefaultDedupWindow)
	}
	var v violations
	validateSource(&v, "source.", in, tplErr == nil)
	// A source whose provider hands its secret over in a handshake (Asana)
	// starts without one and takes the first handshake's.
	if in.GetSecret() != "" || !verify.CapturesSecret(in.GetSignatureScheme()) {
		validateSecret(&v, "source.secret", in.GetSecret(), in.GetSignatureScheme())
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	fields, err := encodeSource(in, tpl)
	if err != nil {
		return nil, internal(ctx, s.log(), "encode source", err)
	}
	vw, _ := viewer.FromContext(ctx)
	var created *ent.Source
	var sec *ent.Secret
	err = withTx(ctx, s.Client, func(tx *ent.Tx) error {
		var err error
		created, err = setSourceFields(tx.Source.Create(), fields).Save(ctx)
		if err != nil {
			return err
		}
		if in.GetSecret() == "" {
			return nil
		}
		sec, err = s.addSecret(ctx, tx, vw.TenantID, created.ID, in.GetSecret(), nil)
		return err
	})
	if err != nil {
		return nil, internal(ctx, s.log(), "create source", err)
	}
	created, err = s.Client.Source.Get(ctx, created.ID)
	if err != nil {
		return nil, internal(ctx, s.log(), "create source", err)
	}
	var held []*ent.Secret
	if sec != nil {
		held = append(held, sec)
	}
	out, err := s.sourceToProto(ctx, created, held)
	if err != nil {
		return nil, internal(ctx, s.log(), "render source", err)
	}
	s.log().InfoContext(ctx, "source created", "source_id", created.ID, "tenant_id", created.TenantID, "template", created.TemplateID)
	return out, nil
}

// addSecret seals and stores a new secret of a source.
func (s *Sources) addSecret(ctx context.Context, tx *ent.Tx, tenantID, sourceID uuid.UUID, plaintext string, expire *time.Time) (*ent.Secret, error) {
	id := uuid.Must(uuid.NewV7())
	keyID, sealed, err := s.Keyring.Seal([]byte(plaintext), secrets.Binding{
		TenantID: tenantID.String(), SourceID: sourceID.String(), SecretID: id.String(),
	})
	if err != nil {
		return nil, err
	}
	return tx.Secret.Create().
		SetID(id).
		SetSourceID(sourceID).
		SetKeyID(keyID).
		SetCiphertext(sealed).
		SetFingerprint(secrets.Fingerprint([]byte(plaintext))).
		SetNillableExpireTime(expire).
		Save(ctx)
}

// GetSource implements plugs.v1.SourceService.
func (s *Sources) GetSource(ctx context.Context, req *plugsv1.GetSourceRequest) (*plugsv1.Source, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.Client, id)
}

func (s *Sources) get(ctx context.Context, c *ent.Client, id uuid.UUID) (*plugsv1.Source, error) {
	src, err := c.Source.Query().Where(source.ID(id)).WithSecrets().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("source", id.String())
	}
	if err != nil {
		return nil, internal(ctx, s.log(), "get source", err)
	}
	out, err := s.sourceToProto(ctx, src, src.Edges.Secrets)
	if err != nil {
		return nil, internal(ctx, s.log(), "render source", err)
	}
	return out, nil
}

// ListSources implements plugs.v1.SourceService.
func (s *Sources) ListSources(ctx context.Context, req *plugsv1.ListSourcesRequest) (*plugsv1.ListSourcesResponse, error) {
	size, after, err := idPage(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := s.Client.Source.Query().WithSecrets().Order(ent.Asc(source.FieldID)).Limit(size + 1)
	if after != uuid.Nil {
		q = q.Where(source.IDGT(after))
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, internal(ctx, s.log(), "list sources", err)
	}
	resp := &plugsv1.ListSourcesResponse{}
	rows, resp.NextPageToken = trimPage(rows, size, func(r *ent.Source) string { return r.ID.String() })
	for _, r := range rows {
		p, err := s.sourceToProto(ctx, r, r.Edges.Secrets)
		if err != nil {
			return nil, internal(ctx, s.log(), "render source", err)
		}
		resp.Sources = append(resp.Sources, p)
	}
	return resp, nil
}

// UpdateSource implements plugs.v1.SourceService.
func (s *Sources) UpdateSource(ctx context.Context, req *plugsv1.UpdateSourceRequest) (*plugsv1.Source, error) {
	in := req.GetSource()
	if in == nil {
		return nil, invalid("source", "is required")
	}
	id, err := parseID("source.id", in.GetId())
	if err != nil {
		return nil, err
	}
	var v violations
	// Any structured setting may be changed in part, such as
	// signature_scheme.tolerance.
	paths := updatePaths(&v, req.GetUpdateMask().GetPaths(), in.ProtoReflect(), updatablePaths, func(string) bool { return true })
	if in.GetSecret() != "" {
		v.add("source.secret", "secrets change through :rotateSecret")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var out *plugsv1.Source
	err = withTx(ctx, s.Client, func(tx *ent.Tx) error {
		cur, err := tx.Source.Query().Where(source.ID(id)).WithSecrets().Only(ctx)
		if ent.IsNotFound(err) {
			return notFound("source", id.String())
		}
		if err != nil {
			return err
		}
		merged, err := s.sourceToProto(ctx, cur, nil)
		if err != nil {
			return err
		}
		var v violations
		applyMask(&v, merged.ProtoReflect(), in.ProtoReflect(), paths)
		if err := v.err(); err != nil {
			return err
		}
		tpl, tplErr := s.Catalog.Get(merged.GetTemplateId())
		if merged.GetMaxBodyBytes() == 0 {
			merged.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if merged.GetDedupWindow() == nil {
			merged.DedupWindow = durationpb.New(DefaultDedupWindow)
		}
		// A cleared scheme or mapping falls back to the template.
		if proto.Size(merged.GetSignatureScheme()) == 0 {
			merged.SignatureScheme = tpl.GetSignatureScheme()
		}
		if proto.Size(merged.GetFieldMappings()) == 0 {
			merged.FieldMappings = tpl.GetFieldMappings()
		}
		validateSource(&v, "source.", merged, tplErr == nil)
		if err := v.err(); err != nil {
			return err
		}
		fields, err := encodeSource(merged, tpl)
		if err != nil {
			return err
		}
		if err := setSourceFields(tx.Source.UpdateOneID(id), fields).Exec(ctx); err != nil {
			return err
		}
		out, err = s.get(ctx, tx.Client(), id)
		return err
	})
	if err != nil {
		return nil, s.txError(ctx, "update source", err)
	}
	return out, nil
}

// DeleteSource implements plugs.v1.SourceService.
func (s *Sources) DeleteSource(ctx context.Context, req *plugsv1.DeleteSourceRequest) (*emptypb.Empty, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	var unrouted int
	err = withTx(ctx, s.Client, func(tx *ent.Tx) error {
		n, err := tx.Source.Delete().Where(source.ID(id)).Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("source", id.String())
		}
		unrouted, err = unrouteSource(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, s.txError(ctx, "delete source", err)
	}
	s.log().InfoContext(ctx, "source deleted", "source_id", id, "destinations_unrouted", unrouted)
	return &emptypb.Empty{}, nil
}

// RotateSecret implements plugs.v1.SourceService.
func (s *Sources) RotateSecret(ctx context.Context, req *plugsv1.RotateSecretRequest) (*plugsv1.Source, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	ttl := DefaultSecretTTL
	if d := req.GetPreviousSecretTtl(); d != nil {
		if d.CheckValid() != nil || d.AsDuration() < 0 || d.AsDuration() > MaxDedupWindow {
			return nil, invalid("previous_secret_ttl", fmt.Sprintf("must be between 0 and %s", MaxDedupWindow))
		}
		ttl = d.AsDuration()
	}
	var out *plugsv1.Source
	err = withTx(ctx, s.Client, func(tx *ent.Tx) error {
		cur, err := s.get(ctx, tx.Client(), id)
		if err != nil {
			return err
		}
		var v violations
		validateSecret(&v, "secret", req.GetSecret(), cur.GetSignatureScheme())
		if err := v.err(); err != nil {
			return err
		}
		now := s.now()
		// Secrets already past their expiry are dropped; the rest expire
		// after ttl unless they were due to expire sooner.
		if _, err := tx.Secret.Delete().Where(secret.SourceID(id), secret.ExpireTimeLTE(now)).Exec(ctx); err != nil {
			return err
		}
		until := now.Add(ttl)
		if ttl == 0 {
			if _, err := tx.Secret.Delete().Where(secret.SourceID(id)).Exec(ctx); err != nil {
				return err
			}
		} else {
			err := tx.Secret.Update().
				Where(secret.SourceID(id), secret.Or(secret.ExpireTimeIsNil(), secret.ExpireTimeGT(until))).
				SetExpireTime(until).
				Exec(ctx)
			if err != nil {
				return err
			}
		}
		n, err := tx.Secret.Query().Where(secret.SourceID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if n+1 > MaxActiveSecrets {
			return status.Errorf(codes.FailedPrecondition,
				"a source holds at most %d secrets; rotate with a shorter previous_secret_ttl or wait for old secrets to expire", MaxActiveSecrets)
		}
		vw, _ := viewer.FromContext(ctx)
		if _, err := s.addSecret(ctx, tx, vw.TenantID, id, req.GetSecret(), nil); err != nil {
			return err
		}
		out, err = s.get(ctx, tx.Client(), id)
		return err
	})
	if err != nil {
		return nil, s.txError(ctx, "rotate secret", err)
	}
	s.log().InfoContext(ctx, "secret rotated", "source_id", id, "previous_secret_ttl", ttl)
	return out, nil
}

// txError passes gRPC statuses made inside a transaction through and turns
// anything else into INTERNAL.
func (s *Sources) txError(ctx context.Context, what string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return internal(ctx, s.log(), what, err)
}

func (s *Sources) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// withTx runs fn in a transaction, committing when it returns nil.
func withTx(ctx context.Context, c *ent.Client, fn func(*ent.Tx) error) error {
	return store.WithTx(ctx, c, fn)
}

// storedSource is a source's row values: structured settings as stored
// bytes, nil where they equal the template's default.
type storedSource struct {
	displayName, templateID, metricID string
	scheme, filter, mappings          []byte
	status                            source.Status
	maxBodyBytes, dedupWindowSeconds  int64
	ratePerSecond                     float64
	rateBurst                         int32
}

// encodeSource turns an effective, validated source into its row values.
// Only settings that differ from the template are stored as overrides, so a
// source on template defaults follows template fixes.
func encodeSource(in *plugsv1.Source, tpl *plugsv1.Template) (storedSource, error) {
	f := storedSource{
		displayName:        in.GetDisplayName(),
		templateID:         in.GetTemplateId(),
		metricID:           in.GetMetricId(),
		status:             statusFromProto(in.GetStatus()),
		maxBodyBytes:       in.GetMaxBodyBytes(),
		dedupWindowSeconds: int64(in.GetDedupWindow().AsDuration() / time.Second),
		ratePerSecond:      in.GetRateLimit().GetRequestsPerSecond(),
		rateBurst:          in.GetRateLimit().GetBurst(),
	}
	var err error
	if !proto.Equal(in.GetSignatureScheme(), tpl.GetSignatureScheme()) {
		if f.scheme, err = config.MarshalOverride(in.GetSignatureScheme()); err != nil {
			return f, err
		}
	}
	if !proto.Equal(in.GetFieldMappings(), tpl.GetFieldMappings()) {
		if f.mappings, err = config.MarshalOverride(in.GetFieldMappings()); err != nil {
			return f, err
		}
	}
	f.filter, err = config.MarshalOverride(in.GetEventFilter())
	return f, err
}

// sourceSetter is what ent's SourceCreate and SourceUpdateOne share.
type sourceSetter[T any] interface {
	SetDisplayName(string) T
	SetTemplateID(string) T
	SetMetricID(string) T
	SetSignatureScheme([]byte) T
	SetEventFilter([]byte) T
	SetFieldMappings([]byte) T
	SetStatus(source.Status) T
	SetMaxBodyBytes(int64) T
	SetDedupWindowSeconds(int64) T
	SetRateLimitPerSecond(float64) T
	SetRateLimitBurst(int32) T
}

func setSourceFields[T sourceSetter[T]](b T, f storedSource) T {
	b.SetDisplayName(f.displayName)
	b.SetTemplateID(f.templateID)
	b.SetMetricID(f.metricID)
	b.SetSignatureScheme(f.scheme)
	b.SetEventFilter(f.filter)
	b.SetFieldMappings(f.mappings)
	b.SetStatus(f.status)
	b.SetMaxBodyBytes(f.maxBodyBytes)
	b.SetDedupWindowSeconds(f.dedupWindowSeconds)
	b.SetRateLimitPerSecond(f.ratePerSecond)
	b.SetRateLimitBurst(f.rateBurst)
	return b
}
