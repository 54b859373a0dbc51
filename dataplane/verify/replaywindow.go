package verify

import (
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ClockSkew is how far apart the clocks of the data planes and of the
// backbone may be. The data plane judges a timestamp's age by its clock;
// the backbone forgets a remembered event id by its own.
const ClockSkew = time.Minute

// ReplayWindow is how long after a signed request first arrives the same
// bytes can still pass verification: a timestamp is accepted from the
// tolerance before the receiver's clock to the tolerance after it (the
// sender's clock may run ahead), so a request first seen as early as its
// timestamp allows stays fresh for twice the tolerance. ClockSkew is added
// for the backbone's clock. A source's dedup window shorter than this lets
// a captured request be accepted a second time, as a new event. Zero for
// schemes without a timestamp, whose requests never go stale.
func (v *Verifier) ReplayWindow() time.Duration {
	if v.jwt != nil && v.jwt.maxAge > 0 {
		// A token is fresh from max_age (and the leeway) before to the
		// leeway after its iat.
		return v.jwt.maxAge + 2*v.jwt.leeway + ClockSkew
	}
	switch {
	case !v.hasTS,
		v.alg == plugsv1.SignatureScheme_ALGORITHM_TOKEN,
		v.alg == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		return 0
	}
	return 2*v.tolerance + ClockSkew
}

// Tolerance is how far a timestamp may be from the receiver's clock, either
// way.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }
