package consumer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// DefaultHubHeader is the header of the Hub style when none is configured,
// the one GitHub made common.
const DefaultHubHeader = "X-Hub-Signature-256"

// hubPrefix names the algorithm inside the hub-style value.
const hubPrefix = "sha256="

func hubMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// signHub returns the hub-style header for body.
func signHub(key []byte, name string, body []byte) http.Header {
	h := make(http.Header, 1)
	h.Set(name, hubPrefix+hex.EncodeToString(hubMAC(key, body)))
	return h
}

// verifyHub checks the hub-style header of body. Upper-case hex is accepted
// too: it is the same signature, and refusing it would only break senders.
func verifyHub(key, body []byte, header http.Header, name string) error {
	value := header.Get(name)
	if value == "" {
		return fmt.Errorf("%w: no %s header", ErrSignatureMissing, name)
	}
	digits, ok := strings.CutPrefix(value, hubPrefix)
	if !ok {
		return fmt.Errorf("%w: %s does not begin %q", ErrSignatureMalformed, name, hubPrefix)
	}
	got, err := hex.DecodeString(digits)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not %d hex digits after %q", ErrSignatureMalformed, name, 2*sha256.Size, hubPrefix)
	}
	if !hmac.Equal(got, hubMAC(key, body)) {
		return fmt.Errorf("%w: %s does not match", ErrSignatureInvalid, name)
	}
	return nil
}
