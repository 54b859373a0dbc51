package consumer_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/consumer"
)

func TestVerifyStandard(t *testing.T) {
	u := testUsage()
	body := eventBody(t, u)
	id := u.GetId()
	good := sign(t, consumer.Signer{Key: testKey}, id, testNow, body)
	otherKey := sign(t, consumer.Signer{Key: "some other key"}, id, testNow, body)
	right := good.Get(consumer.HeaderWebhookSignature)
	wrong := otherKey.Get(consumer.HeaderWebhookSignature)
	// A well-formed v1 entry of another version prefix: skipped, not read.
	v1a := "v1a," + strings.TrimPrefix(right, "v1,")
	at := func(ts time.Time) http.Header { return sign(t, consumer.Signer{Key: testKey}, id, ts, body) }
	forgedAt := func(ts time.Time) http.Header {
		return sign(t, consumer.Signer{Key: "some other key"}, id, ts, body)
	}

	tests := []struct {
		name      string
		header    http.Header
		body      []byte
		tolerance time.Duration
		want      error
	}{
		{name: "valid", header: good},
		{name: "no headers", header: http.Header{}, want: consumer.ErrSignatureMissing},
		{name: "nil header", header: nil, want: consumer.ErrSignatureMissing},
		{name: "no id", header: with(good, consumer.HeaderWebhookID, ""), want: consumer.ErrSignatureMissing},
		{name: "no timestamp", header: with(good, consumer.HeaderWebhookTimestamp, ""), want: consumer.ErrSignatureMissing},
		{name: "no signature", header: with(good, consumer.HeaderWebhookSignature, ""), want: consumer.ErrSignatureMissing},
		{name: "blank signature", header: with(good, consumer.HeaderWebhookSignature, "   "), want: consumer.ErrSignatureMissing},
		{name: "timestamp not a number", header: with(good, consumer.HeaderWebhookTimestamp, "yesterday"), want: consumer.ErrSignatureMalformed},
		{name: "timestamp with sign", header: with(good, consumer.HeaderWebhookTimestamp, "+1767225600"), want: consumer.ErrSignatureMalformed},
		{name: "timestamp negative", header: with(good, consumer.HeaderWebhookTimestamp, "-1"), want: consumer.ErrSignatureMalformed},
		{name: "timestamp fraction", header: with(good, consumer.HeaderWebhookTimestamp, "1767225600.5"), want: consumer.ErrSignatureMalformed},
		{name: "timestamp in milliseconds overflowing", header: with(good, consumer.HeaderWebhookTimestamp, "99999999999999999999"), want: consumer.ErrSignatureMalformed},
		{name: "signature not base64", header: with(good, consumer.HeaderWebhookSignature, "v1,not*base64!"), want: consumer.ErrSignatureMalformed},
		{name: "signature without version", header: with(good, consumer.HeaderWebhookSignature, strings.TrimPrefix(right, "v1,")), want: consumer.ErrSignatureMalformed},
		{name: "signature of another version only", header: with(good, consumer.HeaderWebhookSignature, v1a), want: consumer.ErrSignatureMalformed},
		{name: "signature too short", header: with(good, consumer.HeaderWebhookSignature, "v1,AAAA"), want: consumer.ErrSignatureMalformed},
		{name: "signature upper-case version", header: with(good, consumer.HeaderWebhookSignature, "V1,"+strings.TrimPrefix(right, "v1,")), want: consumer.ErrSignatureMalformed},
		{name: "wrong key", header: otherKey, want: consumer.ErrSignatureInvalid},
		{name: "tampered body", header: good, body: []byte(strings.Replace(string(body), "12.5", "125", 1)), want: consumer.ErrSignatureInvalid},
		{name: "body with a trailing newline", header: good, body: append(append([]byte{}, body...), '\n'), want: consumer.ErrSignatureInvalid},
		{name: "other id", header: with(good, consumer.HeaderWebhookID, "msg_other"), want: consumer.ErrSignatureInvalid},
		{name: "other timestamp", header: with(good, consumer.HeaderWebhookTimestamp, "1767225601"), want: consumer.ErrSignatureInvalid},
		{name: "rotation, new key second", header: with(good, consumer.HeaderWebhookSignature, wrong+" "+right)},
		{name: "rotation, new key first", header: with(good, consumer.HeaderWebhookSignature, right+" "+wrong)},
		{name: "rotation, both wrong", header: with(good, consumer.HeaderWebhookSignature, wrong+" "+wrong), want: consumer.ErrSignatureInvalid},
		{name: "other versions skipped", header: with(good, consumer.HeaderWebhookSignature, "v1a,AAAA v2,xyz "+right)},
		{name: "undecodable entry skipped", header: with(good, consumer.HeaderWebhookSignature, "v1,not*base64! "+right)},
		{name: "extra spaces", header: with(good, consumer.HeaderWebhookSignature, "  "+wrong+"   "+right+"  ")},
		{name: "entries on two header lines", header: func() http.Header {
			h := with(good, consumer.HeaderWebhookSignature, wrong)
			h.Add(consumer.HeaderWebhookSignature, right)
			return h
		}()},
		{name: "stale", header: at(testNow.Add(-301 * time.Second)), want: consumer.ErrSignatureStale},
		{name: "from the future", header: at(testNow.Add(301 * time.Second)), want: consumer.ErrSignatureStale},
		{name: "oldest within tolerance", header: at(testNow.Add(-300 * time.Second))},
		{name: "newest within tolerance", header: at(testNow.Add(300 * time.Second))},
		{name: "stale and forged", header: forgedAt(testNow.Add(-time.Hour)), want: consumer.ErrSignatureInvalid},
		{name: "future and forged", header: forgedAt(testNow.Add(time.Hour)), want: consumer.ErrSignatureInvalid},
		{name: "epoch", header: at(time.Unix(0, 0)), want: consumer.ErrSignatureStale},
		{name: "far future", header: at(time.Unix(1<<62, 0)), want: consumer.ErrSignatureStale},
		{name: "custom tolerance, inside", header: at(testNow.Add(-9 * time.Second)), tolerance: 10 * time.Second},
		{name: "custom tolerance, outside", header: at(testNow.Add(-11 * time.Second)), tolerance: 10 * time.Second, want: consumer.ErrSignatureStale},
		{name: "custom tolerance, future", header: at(testNow.Add(11 * time.Second)), tolerance: 10 * time.Second, want: consumer.ErrSignatureStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.body != nil {
				b = tt.body
			}
			v := &consumer.Verifier{Key: testKey, Now: fixedClock(testNow), Tolerance: tt.tolerance}
			ev, err := v.Verify(b, tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if ev != nil {
					t.Errorf("Verify returned an event with error %v", err)
				}
				return
			}
			if !proto.Equal(ev.Usage, u) {
				t.Errorf("Usage = %v, want %v", ev.Usage, u)
			}
		})
	}
}

func TestVerifyHub(t *testing.T) {
	body := eventBody(t, testUsage())
	good := sign(t, consumer.Signer{Key: testKey, Style: consumer.Hub}, "", time.Time{}, body)
	value := good.Get(consumer.DefaultHubHeader)
	hexDigits := strings.TrimPrefix(value, "sha256=")
	otherKey := sign(t, consumer.Signer{Key: "some other key", Style: consumer.Hub}, "", time.Time{}, body)
	custom := sign(t, consumer.Signer{Key: testKey, Style: consumer.Hub, Header: "X-Plugs-Signature"}, "", time.Time{}, body)

	tests := []struct {
		name       string
		header     http.Header
		headerName string
		body       []byte
		want       error
	}{
		{name: "valid", header: good},
		{name: "upper-case hex", header: with(good, consumer.DefaultHubHeader, "sha256="+strings.ToUpper(hexDigits))},
		{name: "custom header", header: custom, headerName: "X-Plugs-Signature"},
		{name: "custom header, case-insensitive", header: custom, headerName: "x-plugs-signature"},
		{name: "no header", header: http.Header{}, want: consumer.ErrSignatureMissing},
		{name: "signature under the default header, custom expected", header: good, headerName: "X-Plugs-Signature", want: consumer.ErrSignatureMissing},
		{name: "no prefix", header: with(good, consumer.DefaultHubHeader, hexDigits), want: consumer.ErrSignatureMalformed},
		{name: "sha1 prefix", header: with(good, consumer.DefaultHubHeader, "sha1="+hexDigits), want: consumer.ErrSignatureMalformed},
		{name: "not hex", header: with(good, consumer.DefaultHubHeader, "sha256="+strings.Repeat("zz", 32)), want: consumer.ErrSignatureMalformed},
		{name: "too short", header: with(good, consumer.DefaultHubHeader, "sha256="+hexDigits[:62]), want: consumer.ErrSignatureMalformed},
		{name: "odd length", header: with(good, consumer.DefaultHubHeader, "sha256="+hexDigits+"0"), want: consumer.ErrSignatureMalformed},
		{name: "prefix alone", header: with(good, consumer.DefaultHubHeader, "sha256="), want: consumer.ErrSignatureMalformed},
		{name: "wrong key", header: otherKey, want: consumer.ErrSignatureInvalid},
		{name: "tampered body", header: good, body: []byte(strings.Replace(string(body), "cus_42", "cus_43", 1)), want: consumer.ErrSignatureInvalid},
		{name: "Standard Webhooks headers instead", header: sign(t, consumer.Signer{Key: testKey}, "id", testNow, body), want: consumer.ErrSignatureMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.body != nil {
				b = tt.body
			}
			// Hub style has no timestamp: a clock a year off changes nothing.
			v := &consumer.Verifier{Key: testKey, Style: consumer.Hub, Header: tt.headerName, Now: fixedClock(testNow.AddDate(1, 0, 0))}
			ev, err := v.Verify(b, tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify: err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && ev.ID != testUsage().GetId() {
				t.Errorf("ID = %q", ev.ID)
			}
		})
	}
}

// TestHubVector checks the hub style against the example GitHub publishes
// for X-Hub-Signature-256.
func TestHubVector(t *testing.T) {
	const (
		secret = "It's a Secret to Everybody"
		body   = "Hello, World!"
		want   = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	h := sign(t, consumer.Signer{Key: secret, Style: consumer.Hub}, "", time.Time{}, []byte(body))
	if got := h.Get("X-Hub-Signature-256"); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	v := &consumer.Verifier{Key: secret, Style: consumer.Hub}
	if err := v.VerifySignature([]byte(body), http.Header{"X-Hub-Signature-256": {want}}); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
}

// TestKeys checks how keys are read and that a Verifier without a usable
// key accepts nothing, not even a request signed under the empty key.
func TestKeys(t *testing.T) {
	body := eventBody(t, testUsage())
	emptyKeySigned := func() http.Header {
		const id, ts = "msg", "1767225600"
		m := hmac.New(sha256.New, nil)
		m.Write([]byte(id + "." + ts + "." + string(body)))
		return http.Header{
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {ts},
			"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))},
		}
	}()
	tests := []struct {
		name   string
		key    string
		style  consumer.Style
		header http.Header
		want   error
	}{
		{name: "empty key, signed with the empty key", key: "", header: emptyKeySigned, want: consumer.ErrKeyMissing},
		{name: "empty key, no headers", key: "", header: http.Header{}, want: consumer.ErrKeyMissing},
		{name: "empty key, hub", key: "", style: consumer.Hub, header: http.Header{}, want: consumer.ErrKeyMissing},
		{name: "prefix alone", key: "whsec_", header: emptyKeySigned, want: consumer.ErrKeyMissing},
		{name: "prefix and not base64", key: "whsec_***", header: emptyKeySigned, want: consumer.ErrKeyMalformed},
		{name: "unknown style", key: testKey, style: consumer.Style(7), header: emptyKeySigned, want: consumer.ErrUnknownStyle},
		{name: "valid key, wrong signature", key: testKey, header: emptyKeySigned, want: consumer.ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &consumer.Verifier{Key: tt.key, Style: tt.style, Now: fixedClock(testNow)}
			if _, err := v.Verify(body, tt.header); !errors.Is(err, tt.want) {
				t.Errorf("Verify: err = %v, want %v", err, tt.want)
			}
			if _, err := (&consumer.Signer{Key: tt.key, Style: tt.style}).Sign("msg", testNow, body); tt.want != consumer.ErrSignatureInvalid && !errors.Is(err, tt.want) {
				t.Errorf("Sign: err = %v, want %v", err, tt.want)
			}
		})
	}

	// A key without the prefix is its own bytes, in both styles, and the
	// whsec_ key is its base64-decoded bytes: the same bytes given raw sign
	// alike.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(testKey, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []consumer.Style{consumer.StandardWebhooks, consumer.Hub} {
		t.Run("raw key "+style.String(), func(t *testing.T) {
			h := sign(t, consumer.Signer{Key: "plain text key", Style: style}, "msg", testNow, body)
			v := &consumer.Verifier{Key: "plain text key", Style: style, Now: fixedClock(testNow)}
			if _, err := v.Verify(body, h); err != nil {
				t.Errorf("Verify: %v", err)
			}
			fromPrefixed := sign(t, consumer.Signer{Key: testKey, Style: style}, "msg", testNow, body)
			fromRaw := sign(t, consumer.Signer{Key: string(raw), Style: style}, "msg", testNow, body)
			if fromPrefixed.Get(consumer.HeaderWebhookSignature) != fromRaw.Get(consumer.HeaderWebhookSignature) ||
				fromPrefixed.Get(consumer.DefaultHubHeader) != fromRaw.Get(consumer.DefaultHubHeader) {
				t.Errorf("whsec_ key and its decoded bytes sign differently: %v, %v", fromPrefixed, fromRaw)
			}
		})
	}
}

func TestSignStandardEmptyID(t *testing.T) {
	_, err := (&consumer.Signer{Key: testKey}).Sign("", testNow, []byte("{}"))
	if !errors.Is(err, consumer.ErrSignatureMissing) {
		t.Errorf("Sign with empty id: err = %v, want %v", err, consumer.ErrSignatureMissing)
	}
}

func TestSignHeaders(t *testing.T) {
	body := []byte(`{}`)
	h := sign(t, consumer.Signer{Key: testKey}, "msg_1", testNow, body)
	if got, want := len(h), 3; got != want {
		t.Errorf("Standard Webhooks headers: %d, want %d: %v", got, want, h)
	}
	if got := h.Get(consumer.HeaderWebhookID); got != "msg_1" {
		t.Errorf("webhook-id = %q", got)
	}
	if got := h.Get(consumer.HeaderWebhookTimestamp); got != "1767225600" {
		t.Errorf("webhook-timestamp = %q", got)
	}
	if got := h.Get(consumer.HeaderWebhookSignature); !strings.HasPrefix(got, "v1,") || strings.Contains(got, " ") {
		t.Errorf("webhook-signature = %q, want one v1 entry", got)
	}
	hub := sign(t, consumer.Signer{Key: testKey, Style: consumer.Hub, Header: "X-Sig"}, "msg_1", testNow, body)
	if len(hub) != 1 || !strings.HasPrefix(hub.Get("X-Sig"), "sha256=") || len(hub.Get("X-Sig")) != len("sha256=")+64 {
		t.Errorf("hub headers = %v", hub)
	}
	if got := hub.Get("X-Sig")[len("sha256="):]; got != strings.ToLower(got) {
		t.Errorf("hub hex %q is not lower-case", got)
	}
}

// TestDefaultClock checks that a Verifier without Now reads the wall clock.
func TestDefaultClock(t *testing.T) {
	body := eventBody(t, testUsage())
	v := &consumer.Verifier{Key: testKey}
	if _, err := v.Verify(body, sign(t, consumer.Signer{Key: testKey}, "msg", time.Now(), body)); err != nil {
		t.Errorf("signed now: %v", err)
	}
	if _, err := v.Verify(body, sign(t, consumer.Signer{Key: testKey}, "msg", testNow.AddDate(-1, 0, 0), body)); !errors.Is(err, consumer.ErrSignatureStale) {
		t.Errorf("signed a year before the test clock: err = %v, want %v", err, consumer.ErrSignatureStale)
	}
}

// TestSignatureBeforeParsing checks that nothing is parsed before the
// signature holds: an unparsable body with a bad signature is a signature
// failure, and the same body signed is an event failure.
func TestSignatureBeforeParsing(t *testing.T) {
	body := []byte(`{not json`)
	v := &consumer.Verifier{Key: testKey, Now: fixedClock(testNow)}
	forged := sign(t, consumer.Signer{Key: "other"}, "msg", testNow, body)
	if _, err := v.Verify(body, forged); !errors.Is(err, consumer.ErrSignatureInvalid) {
		t.Errorf("forged: err = %v, want %v", err, consumer.ErrSignatureInvalid)
	}
	signed := sign(t, consumer.Signer{Key: testKey}, "msg", testNow, body)
	if _, err := v.Verify(body, signed); !errors.Is(err, consumer.ErrInvalidEvent) {
		t.Errorf("signed: err = %v, want %v", err, consumer.ErrInvalidEvent)
	}
	if err := v.VerifySignature(body, signed); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
}

func TestErrorCodes(t *testing.T) {
	for err, want := range map[error]string{
		consumer.ErrSignatureMissing:   "signature_missing",
		consumer.ErrSignatureMalformed: "signature_malformed",
		consumer.ErrSignatureStale:     "signature_stale",
		consumer.ErrSignatureInvalid:   "signature_invalid",
	} {
		if err.Error() != want {
			t.Errorf("%v: message %q, want %q", err, err.Error(), want)
		}
	}
}
