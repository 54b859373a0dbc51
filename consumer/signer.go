package consumer

import (
	"fmt"
	"net/http"
	"time"
)

// Signer produces the signature headers of a delivery: for tests of a
// receiver, and for senders. It is meant to be what the Plugs forwarder signs
// with too, so that Verifier and forwarder share one implementation of the
// signature and cannot drift apart. Its fields mean what the same fields of
// Verifier mean.
type Signer struct {
	// Key is the shared key: "whsec_" and standard base64, or raw bytes.
	Key string
	// Style is how to sign; the zero value is StandardWebhooks.
	Style Style
	// Header is the header of the Hub style; empty means DefaultHubHeader.
	Header string
}

// Sign returns the headers that sign body: for StandardWebhooks,
// webhook-id = id, webhook-timestamp = ts in Unix seconds and one v1
// webhook-signature; for Hub, the one hub-style header (id and ts are not
// signed). The caller copies them onto the request and sends body byte for
// byte as signed. It fails with ErrKeyMissing or ErrKeyMalformed for a key a
// Verifier would refuse, with ErrSignatureMissing for an empty id under
// StandardWebhooks, and with ErrUnknownStyle, so nothing unverifiable is
// sent.
func (s *Signer) Sign(id string, ts time.Time, body []byte) (http.Header, error) {
	key, err := decodeKey(s.Key)
	if err != nil {
		return nil, err
	}
	switch s.Style {
	case StandardWebhooks:
		if id == "" {
			// A receiver would answer signature_missing; say so here.
			return nil, fmt.Errorf("%w: empty message id", ErrSignatureMissing)
		}
		return signStandard(key, id, ts, body), nil
	case Hub:
		return signHub(key, hubHeader(s.Header), body), nil
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownStyle, int(s.Style))
	}
}
