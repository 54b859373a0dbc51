package forward

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/plugshq/plugs/consumer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Body returns what a destination is POSTed for ev: the usage event as a
// CloudEvent whose id is id (see encodeCloudEvent).
func Body(ev *plugsv1.UsageEvent, id string) ([]byte, error) {
	return encodeCloudEvent(ev, id)
}

// NewRequest returns one delivery, ready to send: body POSTed to url with
// the headers every delivery carries, signed by signer as message id at
// time at. The forwarder makes each attempt with it, and plugs listen what
// it forwards to a developer's machine, so a local handler gets exactly
// what a destination would. Errors wrap ErrRequest.
func NewRequest(ctx context.Context, url string, signer *consumer.Signer, id string, body []byte, at time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", userAgent)
	sig, err := signer.Sign(id, at, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	for k, v := range sig {
		req.Header[k] = v
	}
	return req, nil
}
