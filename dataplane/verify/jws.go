package verify

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// maxToken bounds a token's length; Apple's notifications, the largest
// tokens webhooks carry, are a few kilobytes.
const maxToken = 256 << 10

// jws is a JSON Web Signature in compact serialization (RFC 7515), parsed
// but not verified.
type jws struct {
	header jwsHeader
	// signingInput is "header.payload" as sent: what the signature covers.
	signingInput []byte
	payload      []byte
	sig          []byte
}

type jwsHeader struct {
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	Typ string   `json:"typ"`
	X5c []string `json:"x5c"`
	// Crit names extensions the signer requires the verifier to
	// understand; none is understood, so a token with any is refused
	// (RFC 7515 §4.1.11). B64 false (RFC 7797) would change what is
	// signed, and is refused too.
	Crit []string `json:"crit"`
	B64  *bool    `json:"b64"`
}

// parseJWS splits and decodes a compact JWS. It fails with
// ErrSignatureMalformed; nothing in it is trusted yet.
func parseJWS(token string) (*jws, error) {
	if len(token) > maxToken {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrSignatureMalformed, maxToken)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not a compact JWS (three dot-separated parts)", ErrSignatureMalformed)
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: token header is not base64url", ErrSignatureMalformed)
	}
	t := &jws{signingInput: []byte(token[:len(h)+1+len(p)])}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, fmt.Errorf("%w: token header is not a JSON object: %w", ErrSignatureMalformed, err)
	}
	if len(t.header.Crit) > 0 || (t.header.B64 != nil && !*t.header.B64) {
		return nil, fmt.Errorf("%w: token requires extensions (crit, b64) that are not supported", ErrSignatureInvalid)
	}
	if t.payload, err = base64.RawURLEncoding.DecodeString(p); err != nil {
		return nil, fmt.Errorf("%w: token payload is not base64url", ErrSignatureMalformed)
	}
	// Strict: a signature has one spelling, so a token whose unused bits
	// were changed is not taken for the signed one.
	if t.sig, err = base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
		return nil, fmt.Errorf("%w: token signature is not base64url", ErrSignatureMalformed)
	}
	return t, nil
}
