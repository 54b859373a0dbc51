package forward

import (
	"fmt"
	"github.com/plugshq/plugs/consumer"
	"net/url"
	"strings"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Defaults of a destination's fields left unset, as destination.proto
// states them.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultMaxConcurrency = 10
	DefaultMaxAttempts    = 30
	DefaultInitialBackoff = 5 * time.Second
	DefaultMaxBackoff     = 6 * time.Hour
	// DefaultMaxAge outlasts the 72 h dedup window, so a provider retry of
	// an event still being delivered is a duplicate, not a second event.
	DefaultMaxAge = 80 * time.Hour
)

// destination is a destination configuration checked and with its defaults
// applied, so the hot path never re-reads the proto or decodes the key.
type destination struct {
	cfg     *plugsv1.DestinationConfig
	id      string
	url     string
	signer  *consumer.Signer // the one implementation consumers verify against
	timeout time.Duration
	maxConc int
	policy  policy
}

// compile checks d and applies its defaults.
func compile(d *plugsv1.DestinationConfig) (*destination, error) {
	if err := checkID(d.GetId()); err != nil {
		return nil, err
	}
	u, err := url.Parse(d.GetUrl())
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: destination %s: url is not http(s)", ErrInvalidDestination, d.GetId())
	}
	signer := &consumer.Signer{Key: string(d.GetSharedKey()), Header: d.GetSignatureHeader()}
	if d.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_HUB {
		signer.Style = consumer.Hub
	}
	// Sign once now, so a key no consumer could verify against stops the
	// destination here rather than at every attempt.
	if _, err := signer.Sign("check", time.Unix(0, 0), nil); err != nil {
		return nil, fmt.Errorf("%w: destination %s: shared key: %w", ErrInvalidDestination, d.GetId(), err)
	}
	out := &destination{
		cfg:     d,
		id:      d.GetId(),
		url:     d.GetUrl(),
		signer:  signer,
		timeout: d.GetTimeout().AsDuration(),
		maxConc: int(d.GetMaxConcurrency()),
		policy:  policyOf(d.GetRetryPolicy()),
	}
	if out.timeout <= 0 {
		out.timeout = DefaultTimeout
	}
	if out.maxConc <= 0 {
		out.maxConc = DefaultMaxConcurrency
	}
	return out, nil
}

// checkID refuses an id that cannot be one token of a subject and part of
// a consumer name. Ids are UUIDs; anything else is refused rather than
// escaped, since a "." or ">" would let one destination's subject cover
// another's.
func checkID(id string) error {
	if id == "" || len(id) > 200 || strings.ContainsAny(id, ".*>/\\ \t\r\n") {
		return fmt.Errorf("%w: id %q cannot name a subject", ErrInvalidDestination, id)
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("%w: id %q cannot name a subject", ErrInvalidDestination, id)
		}
	}
	return nil
}

// ConsumerName is the durable consumer that delivers to a destination.
func ConsumerName(destinationID string) string { return "plugs-dest-" + destinationID }

// active reports whether deliveries to d are made now. Only an explicit
// ACTIVE counts: an unspecified status is a configuration the data plane
// does not understand, and holding its deliveries loses nothing.
func active(d *plugsv1.DestinationConfig) bool {
	return d.GetStatus() == plugsv1.Destination_STATUS_ACTIVE
}

// routable reports whether deliveries to d are queued: active or paused.
func routable(d *plugsv1.DestinationConfig) bool {
	s := d.GetStatus()
	return s == plugsv1.Destination_STATUS_ACTIVE || s == plugsv1.Destination_STATUS_PAUSED
}
