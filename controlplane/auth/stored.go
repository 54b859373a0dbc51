package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"
)

// hashMatches reports whether token hashes to stored, in constant time. A
// nil stored hash (no row has the token's prefix) spends the same
// comparison as a hit, so timing does not tell whether a prefix exists.
func hashMatches(token string, stored []byte) bool {
	if stored == nil {
		subtle.ConstantTimeCompare(HashToken(token), make([]byte, sha256.Size))
		return false
	}
	return subtle.ConstantTimeCompare(HashToken(token), stored) == 1
}

// touchDue returns the last-use time to record, to the minute, and whether
// it differs from last; a busy credential then writes once a minute at
// most instead of on every request.
func touchDue(now func() time.Time, last *time.Time) (time.Time, bool) {
	if now == nil {
		now = time.Now
	}
	t := now().UTC().Truncate(time.Minute)
	return t, last == nil || last.Before(t)
}
