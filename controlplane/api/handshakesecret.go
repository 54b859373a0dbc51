package api

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/secret"
	"github.com/plugshq/plugs/ent/source"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// CaptureHandshakeSecret stores the signing secret a provider handed over
// in a handshake (Asana's X-Hook-Secret) as the source's secret. A data
// plane calls it, authenticated as a data plane, before it answers the
// handshake. The secret is taken only while the source's scheme captures
// secrets and the source holds no active one, so a forged handshake can
// never replace a secret: a source already holding the same secret answers
// OK (the provider repeated its handshake), one holding another answers
// FAILED_PRECONDITION.
func (s *Sources) CaptureHandshakeSecret(ctx context.Context, req *plugsv1.CaptureHandshakeSecretRequest) (*plugsv1.CaptureHandshakeSecretResponse, error) {
	id, err := parseID("source_id", req.GetSourceId())
	if err != nil {
		return nil, err
	}
	plaintext := req.GetSecret()
	switch {
	case plaintext == "":
		return nil, invalid("secret", "is required")
	case len(plaintext) > MaxSecretLen:
		return nil, invalid("secret", fmt.Sprintf("must be at most %d characters", MaxSecretLen))
	case strings.ContainsFunc(plaintext, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, invalid("secret", "must not contain control characters")
	}
	// The data plane serves every tenant: the source is looked up across
	// tenants, then written as its own tenant.
	src, err := s.Client.Source.Query().Where(source.ID(id)).Only(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return nil, notFound("source", id.String())
	}
	if err != nil {
		return nil, internal(ctx, s.log(), "capture handshake secret", err)
	}
	tctx := viewer.ForTenant(ctx, src.TenantID)
	var out *plugsv1.CaptureHandshakeSecretResponse
	err = withTx(tctx, s.Client, func(tx *ent.Tx) error {
		// Written first, so concurrent captures of one source take turns
		// (the row stays locked until commit) and the second sees the
		// first's secret.
		if err := tx.Source.UpdateOneID(id).SetUpdateTime(s.now()).Exec(tctx); err != nil {
			return err
		}
		src, err := tx.Source.Get(tctx, id)
		if err != nil {
			return err
		}
		tpl, err := s.Catalog.Get(src.TemplateID)
		if err != nil {
			tpl = &plugsv1.Template{}
		}
		eff, err := config.Resolve(src, tpl)
		if err != nil {
			return err
		}
		if !verify.CapturesSecret(eff.Scheme) {
			return status.Error(codes.FailedPrecondition, "the source's signature scheme takes no secret from a handshake")
		}
		held, err := tx.Secret.Query().
			Where(secret.SourceID(id), secret.Or(secret.ExpireTimeIsNil(), secret.ExpireTimeGT(s.now()))).
			All(tctx)
		if err != nil {
			return err
		}
		fp := secrets.Fingerprint([]byte(plaintext))
		for _, h := range held {
			if h.Fingerprint == fp {
				out = &plugsv1.CaptureHandshakeSecretResponse{Secret: secretInfo(h), Revision: src.Revision}
				return errRepeated
			}
		}
		if len(held) > 0 {
			return status.Error(codes.FailedPrecondition, "the source already holds a secret; a handshake cannot replace it (delete and create the source again to take a new one)")
		}
		sec, err := s.addSecret(tctx, tx, src.TenantID, id, plaintext, nil)
		if err != nil {
			return err
		}
		out = &plugsv1.CaptureHandshakeSecretResponse{Secret: secretInfo(sec)}
		return nil
	})
	switch {
	case err == errRepeated:
		s.log().InfoContext(ctx, "handshake repeated with the secret held", "source_id", id, "node", req.GetNode().GetId())
		return out, nil
	case err != nil:
		return nil, s.txError(ctx, "capture handshake secret", err)
	}
	if after, err := s.Client.Source.Get(tctx, id); err == nil {
		out.Revision = after.Revision
	}
	s.log().InfoContext(ctx, "secret captured from a handshake", "source_id", id, "tenant_id", src.TenantID,
		"fingerprint", out.GetSecret().GetFingerprint(), "node", req.GetNode().GetId())
	return out, nil
}

// errRepeated rolls back the transaction of a handshake that repeats the
// secret already held: nothing is written.
var errRepeated = status.Error(codes.AlreadyExists, "the source holds this secret")

func secretInfo(sec *ent.Secret) *plugsv1.SecretInfo {
	info := &plugsv1.SecretInfo{Id: sec.ID.String(), Fingerprint: sec.Fingerprint, CreateTime: timestamppb.New(sec.CreateTime)}
	if sec.ExpireTime != nil {
		info.ExpireTime = timestamppb.New(*sec.ExpireTime)
	}
	return info
}
