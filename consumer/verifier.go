package consumer

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// Defaults of a Verifier's zero fields.
const (
	// DefaultTolerance is how far a Standard Webhooks timestamp may lie from
	// now, either way, as the Standard Webhooks libraries allow.
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBody bounds a body. A forwarded usage event is a few
	// kilobytes; a megabyte is room for large custom properties while still
	// refusing to hash or parse whatever an attacker cares to send.
	DefaultMaxBody = 1 << 20
)

// Verifier checks that a request was signed by Plugs with the destination's
// shared key and decodes the event it carries. Its zero fields take the
// defaults documented on each; a Verifier is safe for concurrent use as long
// as nobody changes its fields meanwhile.
type Verifier struct {
	// Key is the destination's shared key: a key beginning "whsec_" is
	// standard base64 after the prefix, any other key is used as its bytes.
	// An empty key verifies nothing (ErrKeyMissing).
	Key string
	// Tolerance is how far the Standard Webhooks timestamp may lie from now,
	// in the past or the future; 0 or less means DefaultTolerance. The Hub
	// style carries no timestamp and ignores it.
	Tolerance time.Duration
	// Now is the clock freshness is judged by; nil means time.Now.
	Now func() time.Time
	// Style is how requests are signed; the zero value is StandardWebhooks.
	Style Style
	// Header is the header of the Hub style; empty means DefaultHubHeader.
	// The StandardWebhooks style ignores it.
	Header string
	// MaxBody is the longest body accepted, in bytes; 0 or less means
	// DefaultMaxBody. A longer body fails with ErrBodyTooLarge.
	MaxBody int64
}

// VerifyRequest reads r's body, at most MaxBody bytes of it, and verifies
// it with r's headers as Verify does. It does not close the body: the HTTP
// server does.
func (v *Verifier) VerifyRequest(r *http.Request) (*Event, error) {
	limit := v.maxBody()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("consumer: read body: %w", err)
	}
	return v.Verify(body, r.Header)
}

// Verify checks the signature of body under header and only then decodes
// body as a forwarded usage event. Errors wrap ErrKeyMissing,
// ErrKeyMalformed or ErrUnknownStyle (the Verifier is misconfigured), ErrBodyTooLarge, one of
// the ErrSignature errors, or ErrInvalidEvent (authentic, but not an event
// this package reads).
func (v *Verifier) Verify(body []byte, header http.Header) (*Event, error) {
	if err := v.VerifySignature(body, header); err != nil {
		return nil, err
	}
	return parseEvent(body)
}

// VerifySignature is Verify without decoding: it returns nil when body is
// signed with the key and, for Standard Webhooks, is fresh. It suits a
// receiver that decodes the CloudEvent its own way.
func (v *Verifier) VerifySignature(body []byte, header http.Header) error {
	// The key is checked first so that a misconfigured receiver says so on
	// every request, whatever the request holds.
	key, err := decodeKey(v.Key)
	if err != nil {
		return err
	}
	if limit := v.maxBody(); int64(len(body)) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, len(body), limit)
	}
	switch v.Style {
	case StandardWebhooks:
		return verifyStandard(key, body, header, v.now(), v.tolerance())
	case Hub:
		return verifyHub(key, body, header, hubHeader(v.Header))
	default:
		// An unknown style verifies nothing rather than falling back to one.
		return fmt.Errorf("%w: %d", ErrUnknownStyle, int(v.Style))
	}
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) tolerance() time.Duration {
	if v.Tolerance <= 0 {
		return DefaultTolerance
	}
	return v.Tolerance
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBody <= 0 {
		return DefaultMaxBody
	}
	return v.MaxBody
}

func hubHeader(name string) string {
	if name == "" {
		return DefaultHubHeader
	}
	return name
}
