package consumer

// Style is how a delivery is signed. The zero value is StandardWebhooks, the
// style Plugs signs with unless a destination asks for another.
type Style int

const (
	// StandardWebhooks signs id, timestamp and body: headers webhook-id,
	// webhook-timestamp (Unix seconds) and webhook-signature, a
	// space-separated list of "v1,<base64 HMAC-SHA256>" (several during a
	// key rotation). See https://www.standardwebhooks.com.
	StandardWebhooks Style = iota
	// Hub signs the body alone, in one header (X-Hub-Signature-256 unless
	// another is configured) holding "sha256=<lower-case hex HMAC-SHA256>".
	// It carries no timestamp, so a captured request can be replayed; the
	// receiver's deduplication on Event.ID is what makes that harmless.
	Hub
)

// String returns the style's name, for logs and flag values.
func (s Style) String() string {
	switch s {
	case StandardWebhooks:
		return "standard-webhooks"
	case Hub:
		return "hub"
	default:
		return "unknown"
	}
}
