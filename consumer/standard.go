package consumer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names. http.Header canonicalizes them, so they
// are read and written case-insensitively.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// standardVersion is the one signature version Standard Webhooks defines for
// HMAC-SHA256; entries of other versions (v1a is Ed25519) are skipped, not
// errors, so a sender may add them without breaking receivers.
const standardVersion = "v1"

// standardMAC is HMAC-SHA256(key, id "." timestamp "." body). The timestamp
// is the header's text, exactly what the sender signed.
func standardMAC(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// signStandard returns the Standard Webhooks headers for body.
func signStandard(key []byte, id string, ts time.Time, body []byte) http.Header {
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	h := make(http.Header, 3)
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, timestamp)
	h.Set(HeaderWebhookSignature, standardVersion+","+
		base64.StdEncoding.EncodeToString(standardMAC(key, id, timestamp, body)))
	return h
}

// verifyStandard checks the Standard Webhooks headers of body: first that a
// v1 signature matches, then that the timestamp is within tolerance of now.
// Freshness is judged only once the signature holds, so an unsigned old
// request reads as invalid rather than merely stale.
func verifyStandard(key, body []byte, header http.Header, now time.Time, tolerance time.Duration) error {
	id := header.Get(HeaderWebhookID)
	timestamp := header.Get(HeaderWebhookTimestamp)
	// A proxy may split a list header into several lines; every line counts.
	list := strings.Join(header.Values(HeaderWebhookSignature), " ")
	for _, h := range []struct{ name, value string }{
		{HeaderWebhookID, id},
		{HeaderWebhookTimestamp, timestamp},
		{HeaderWebhookSignature, strings.TrimSpace(list)},
	} {
		if h.value == "" {
			return fmt.Errorf("%w: no %s header", ErrSignatureMissing, h.name)
		}
	}

	sec, ok := parseUnixSeconds(timestamp)
	if !ok {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrSignatureMalformed, HeaderWebhookTimestamp)
	}

	var candidates [][]byte
	for _, entry := range strings.Fields(list) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != standardVersion {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			continue
		}
		candidates = append(candidates, b)
	}
	if len(candidates) == 0 {
		return fmt.Errorf("%w: no %s entry holding a base64 HMAC-SHA256 in %s",
			ErrSignatureMalformed, standardVersion, HeaderWebhookSignature)
	}

	want := standardMAC(key, id, timestamp, body)
	matched := false
	// Every candidate is compared, match or not, so the time taken says
	// nothing about which entry matched.
	for _, c := range candidates {
		if hmac.Equal(c, want) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("%w: none of %d %s signatures matches", ErrSignatureInvalid, len(candidates), standardVersion)
	}

	// time.Time.Sub saturates, so a timestamp absurdly far off is stale,
	// never wrapped around into the window.
	age := now.Sub(time.Unix(sec, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %s from now, tolerance %s",
			ErrSignatureStale, timestamp, age.Round(time.Second), tolerance)
	}
	return nil
}

// parseUnixSeconds reads a timestamp as plain decimal digits. Signs, spaces
// and fractions are refused: the value is signed as text, and a sender that
// writes anything else is not one this package understands.
func parseUnixSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
