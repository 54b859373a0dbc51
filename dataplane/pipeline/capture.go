package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/plugshq/plugs/dataplane/verify"
)

// SecretCapturer stores a signing secret a provider handed over in a
// handshake (Asana's X-Hook-Secret) as the source's secret, through the
// control plane, which seals it and sends it to every data plane. It
// returns an error wrapping ErrSecretRefused when the control plane refuses
// it (the source meanwhile holds another secret, or is gone), and any other
// error when it could not be asked.
type SecretCapturer interface {
	CaptureSecret(ctx context.Context, sourceID, secret string) error
}

// ErrSecretRefused means the control plane refused a handshake's secret.
var ErrSecretRefused = errors.New("pipeline: the control plane refused the handshake's secret")

// captureTimeout bounds the wait for the control plane: the provider waits
// for the answer (Asana holds its webhook-creation request open meanwhile).
const captureTimeout = 5 * time.Second

// capture stores the secret an answer carries before the answer is sent:
// a provider told the handshake succeeded goes on to send events, and they
// must then verify.
func (p *Pipeline) capture(ctx context.Context, res *Result, ans *verify.Answer) *Result {
	if p.secrets == nil {
		return res.reject(CauseSecretMissing, "this data plane cannot store a secret delivered by a handshake")
	}
	ctx, cancel := context.WithTimeout(ctx, captureTimeout)
	defer cancel()
	err := p.secrets.CaptureSecret(ctx, res.Source.Config.GetId(), ans.CapturedSecret)
	switch {
	case errors.Is(err, ErrSecretRefused):
		return res.reject(CauseSignatureInvalid, err.Error())
	case err != nil:
		p.log.WarnContext(ctx, "handshake secret not stored", "source", res.Source.Config.GetId(), "error", err)
		return res.reject(CauseControlPlaneUnavailable, err.Error())
	}
	p.log.InfoContext(ctx, "handshake secret stored", "source", res.Source.Config.GetId())
	res.Outcome, res.Answer = Handshake, ans
	return res
}
