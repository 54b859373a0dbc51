package forward

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// This file signs deliveries. It mirrors the consumer package's signer (the
// customer's side), which it will be unified with; until then the two are
// kept byte-compatible by tests on both sides against the Standard Webhooks
// specification.

// DefaultHubHeader carries the hub-style signature when the destination
// names no header.
const DefaultHubHeader = "X-Hub-Signature-256"

// Standard Webhooks headers.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// keyPrefix marks a key issued the Standard Webhooks way: base64 after it.
const keyPrefix = "whsec_"

// decodeKey returns the HMAC key of a shared key. An empty key is refused:
// an HMAC under an empty key is computable by anyone, so the receiver could
// not tell our deliveries from forgeries.
func decodeKey(key []byte) ([]byte, error) {
	rest, ok := cutPrefix(key, keyPrefix)
	if !ok {
		if len(key) == 0 {
			return nil, fmt.Errorf("%w: no shared key", ErrInvalidDestination)
		}
		return key, nil
	}
	// The decoder's error is left out: it locates the fault in the key, and
	// the key belongs in no log.
	b, err := base64.StdEncoding.DecodeString(string(rest))
	if err != nil {
		return nil, fmt.Errorf("%w: shared key is not standard base64 after %q", ErrInvalidDestination, keyPrefix)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: nothing after %q in the shared key", ErrInvalidDestination, keyPrefix)
	}
	return b, nil
}

func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

// sign sets the signature headers of a delivery of body with id, signed at
// now.
func (d *destination) sign(h http.Header, id string, now time.Time, body []byte) {
	if d.hub {
		m := hmac.New(sha256.New, d.key)
		m.Write(body)
		h.Set(d.header, "sha256="+hex.EncodeToString(m.Sum(nil)))
		return
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	h.Set(headerWebhookID, id)
	h.Set(headerWebhookTimestamp, ts)
	h.Set(headerWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
}
