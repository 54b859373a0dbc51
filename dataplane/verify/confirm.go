package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// checkConfirms makes sure a handshake that visits a confirmation URL
// (HandshakeRule.confirm_url) has hosts to check it against: those the
// scheme's certificate URLs may be fetched from.
func (v *Verifier) checkConfirms() error {
	if !v.confirms {
		return nil
	}
	if v.pk == nil || v.pk.keys.kind != plugsv1.KeySource_KIND_CERTIFICATE_URL {
		return fmt.Errorf("%w: a handshake's confirm_url needs a public-key scheme whose keys come from certificate URLs, whose allowed_urls it is checked against", ErrInvalidScheme)
	}
	return nil
}

// visit confirms a subscription by visiting its confirmation URL (AWS
// SNS's SubscribeURL) through the fetcher's egress-guarded client: https
// only, on a host the scheme's certificate URLs allow, checked before any
// connection. A URL elsewhere is refused as a forgery would be; a visit
// that fails wraps ErrKeyUnavailable, so the request is answered 503 and
// the provider sends the handshake again.
func (v *Verifier) visit(raw string, opts *Options) error {
	u, err := allowedURL(raw, v.pk.keys.patterns, false)
	if err != nil {
		return fmt.Errorf("%w: confirmation URL: %w", ErrSignatureInvalid, err)
	}
	f := opts.Keys
	if f == nil {
		return &KeyUnavailableError{URL: redact(u), Err: errors.New("this data plane makes no outbound calls for verification"), RetryAfter: time.Minute}
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: confirmation URL: %w", ErrSignatureInvalid, err)
	}
	hreq.Header.Set("User-Agent", "Plugs")
	resp, err := f.opts.Client.Do(hreq)
	if err != nil {
		return &KeyUnavailableError{URL: redact(u), Err: fmt.Errorf("confirming the subscription: %w", err), RetryAfter: 5 * time.Second}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return &KeyUnavailableError{URL: redact(u), Err: fmt.Errorf("confirming the subscription: answered %s", resp.Status), RetryAfter: 5 * time.Second}
	}
	return nil
}
