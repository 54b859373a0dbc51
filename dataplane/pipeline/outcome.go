package pipeline

// Outcome is what became of a webhook.
type Outcome string

// Outcomes, as receipts record them.
const (
	Accepted  Outcome = "accepted"
	Duplicate Outcome = "duplicate"
	Filtered  Outcome = "filtered"
	Rejected  Outcome = "rejected"
	// Handshake means the request was a provider's handshake and was
	// answered; no event results.
	Handshake Outcome = "handshake"
	// UnknownSource means no source has the id; only metrics count these.
	UnknownSource Outcome = "unknown_source"
)

// Cause says why a webhook was rejected.
type Cause string

// Causes of rejection.
const (
	CauseNone                Cause = ""
	CauseSourceDisabled      Cause = "source_disabled"
	CauseMethodNotAllowed    Cause = "method_not_allowed"
	CausePayloadTooLarge     Cause = "payload_too_large"
	CauseBodyUnreadable      Cause = "body_unreadable"
	CauseSecretMissing       Cause = "secret_missing"
	CauseSignatureMissing    Cause = "signature_missing"
	CauseSignatureMalformed  Cause = "signature_malformed"
	CauseSignatureStale      Cause = "signature_stale"
	CauseSignatureInvalid    Cause = "signature_invalid"
	CauseUnparsablePayload   Cause = "unparsable_payload"
	CauseMappingFailed       Cause = "mapping_failed"
	CauseBackboneUnavailable Cause = "backbone_unavailable"
	CauseRateLimited         Cause = "rate_limited"
	// CauseTooManyRejections means the request was rejected before it was
	// verified, past the source's budget for such requests: it is
	// answered 429 and leaves no receipt.
	CauseTooManyRejections Cause = "too_many_rejections"
	// CauseTooManyItems means a batch held more items than its source
	// allows: the request is answered 413 and nothing is stored.
	CauseTooManyItems Cause = "too_many_items"
	// CauseNotReady means the data plane has no configuration yet (it just
	// started): the source may well exist, so the sender should retry.
	CauseNotReady Cause = "not_ready"
	// CauseKeyUnavailable means the key that verifies the request comes
	// from the provider (a certificate URL, a key set) and could not be
	// had in time: answered 503 with Retry-After, so the provider retries.
	CauseKeyUnavailable Cause = "key_unavailable"
	// CauseControlPlaneUnavailable means a handshake delivered a signing
	// secret that could not be stored because the control plane did not
	// answer: the provider should retry its handshake.
	CauseControlPlaneUnavailable Cause = "control_plane_unavailable"
)
