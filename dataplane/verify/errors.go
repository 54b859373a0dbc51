package verify

import "errors"

// Verification failures. Each is a reason to answer 401; they are told apart
// so receipts can say which one happened.
var (
	// ErrSecretMissing means the source holds no usable secret: none set,
	// all expired, or none decodes under the scheme. Verification fails
	// closed.
	ErrSecretMissing = errors.New("verify: no active signing secret")
	// ErrSignatureMissing means the request lacks the signature, the token
	// or a header the signature needs (timestamp, message id).
	ErrSignatureMissing = errors.New("verify: signature missing")
	// ErrSignatureMalformed means the signature material is present but
	// cannot be read: no signature decodes, or the timestamp does not parse.
	ErrSignatureMalformed = errors.New("verify: signature malformed")
	// ErrSignatureStale means a signature matched but its timestamp lies
	// outside the scheme's tolerance.
	ErrSignatureStale = errors.New("verify: signature timestamp outside tolerance")
	// ErrSignatureInvalid means no signature matched any active secret.
	ErrSignatureInvalid = errors.New("verify: signature does not match")
	// ErrInvalidScheme means a scheme cannot be compiled.
	ErrInvalidScheme = errors.New("verify: invalid signature scheme")
	// ErrKeyUnavailable means the key a request needs is fetched from the
	// provider (a certificate URL, a key set, a key endpoint) and could not
	// be had in time, or the fetch failed a moment ago. It is not the
	// sender's fault: the answer is 503 with Retry-After, so the provider
	// retries; RetryAfter says when. Errors wrapping it are
	// *KeyUnavailableError.
	ErrKeyUnavailable = errors.New("verify: signing key unavailable")
	// ErrCannotSign means Sign cannot produce a signature for the scheme
	// with what it was given (an Ed25519 scheme needs the private key).
	ErrCannotSign = errors.New("verify: cannot sign with this scheme")
)
