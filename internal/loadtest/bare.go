package loadtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BareHandler is the reference Plugs' throughput is compared with: the
// least a hand-written receiver for this one provider does. It reads the
// body (up to 1 MiB), checks the Stripe-Signature HMAC-SHA256 of
// "{t}.{body}" under secret in constant time and the timestamp's 300 s
// tolerance, and answers 200 {"received":true}. It stores nothing, parses
// no JSON and forwards nothing.
func BareHandler(secret string) http.Handler {
	key := []byte(secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		ts, sig, ok := stripeHeader(r.Header.Get("Stripe-Signature"))
		if !ok {
			http.Error(w, "signature missing", http.StatusUnauthorized)
			return
		}
		t, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || absDuration(time.Since(time.Unix(t, 0))) > 300*time.Second {
			http.Error(w, "signature stale", http.StatusUnauthorized)
			return
		}
		want, err := hex.DecodeString(sig)
		if err != nil {
			http.Error(w, "signature malformed", http.StatusUnauthorized)
			return
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if !hmac.Equal(mac.Sum(nil), want) {
			http.Error(w, "signature invalid", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"received":true}`)
	})
}

// stripeHeader splits "t=…,v1=…" into its timestamp and first v1
// signature.
func stripeHeader(h string) (ts, sig string, ok bool) {
	for item := range strings.SplitSeq(h, ",") {
		k, v, _ := strings.Cut(item, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig == "" {
				sig = v
			}
		}
	}
	return ts, sig, ts != "" && sig != ""
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
