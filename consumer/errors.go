package consumer

import "errors"

// Errors of Verify, VerifySignature, VerifyRequest and Signer.Sign. They are
// returned wrapped with %w and a detail, so test them with errors.Is. The
// signature errors read as the codes Plugs itself records for a rejected
// webhook, so they can be logged or answered as they are.
var (
	// ErrKeyMissing means the Verifier or Signer holds no key, or a
	// "whsec_" key with nothing after the prefix. Nothing verifies without
	// a key: verification fails closed rather than accepting anything.
	ErrKeyMissing = errors.New("key_missing")
	// ErrKeyMalformed means a key beginning "whsec_" is not standard base64
	// after the prefix.
	ErrKeyMalformed = errors.New("key_malformed")
	// ErrUnknownStyle means a Verifier or Signer holds a Style this package
	// does not define. It verifies nothing rather than guessing a style.
	ErrUnknownStyle = errors.New("unknown_style")
	// ErrSignatureMissing means a header the signature style needs is
	// absent or empty: webhook-id, webhook-timestamp or webhook-signature,
	// or the hub-style header.
	ErrSignatureMissing = errors.New("signature_missing")
	// ErrSignatureMalformed means the signature headers are present but
	// cannot be read: a timestamp that is not Unix seconds, no "v1," entry
	// holding a base64 HMAC-SHA256, or a hub-style value that is not
	// "sha256=" and 64 hex digits.
	ErrSignatureMalformed = errors.New("signature_malformed")
	// ErrSignatureStale means a signature matched but its timestamp lies
	// further from now than the tolerance, in the past or in the future. It
	// is only reported for a matching signature, so an old forged request
	// is ErrSignatureInvalid.
	ErrSignatureStale = errors.New("signature_stale")
	// ErrSignatureInvalid means no signature matched the key: the body was
	// changed, the key is wrong, or the request was not sent by Plugs.
	ErrSignatureInvalid = errors.New("signature_invalid")
	// ErrBodyTooLarge means the body is longer than the Verifier's MaxBody;
	// it is neither hashed nor parsed.
	ErrBodyTooLarge = errors.New("body_too_large")
	// ErrInvalidEvent means the signature is good but the body is not a
	// CloudEvents 1.0 JSON document of type dev.plugs.usage whose data is a
	// UsageEvent.
	ErrInvalidEvent = errors.New("invalid_event")
)
