package consumer

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// keyPrefix marks a key issued the Standard Webhooks way: base64 after the
// prefix. Plugs' destinations take either form, so both sides decode alike.
const keyPrefix = "whsec_"

// decodeKey returns the HMAC key bytes of a shared key. It refuses an empty
// key rather than computing an HMAC under it: an HMAC with an empty key is
// computable by anyone, so accepting it would accept forgeries.
func decodeKey(key string) ([]byte, error) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		if key == "" {
			return nil, fmt.Errorf("%w: no key configured", ErrKeyMissing)
		}
		return []byte(key), nil
	}
	// The decoding error is left out: it would only say at which offset the
	// key is wrong, which is about the key and belongs in no log.
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrKeyMalformed, keyPrefix)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: nothing after %q", ErrKeyMissing, keyPrefix)
	}
	return b, nil
}
