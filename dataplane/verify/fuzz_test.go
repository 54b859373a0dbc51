package verify_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
)

var sentinels = []error{
	verify.ErrSecretMissing, verify.ErrSignatureMissing, verify.ErrSignatureMalformed,
	verify.ErrSignatureStale, verify.ErrSignatureInvalid, verify.ErrKeyUnavailable,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzSignatureHeader feeds random signature and timestamp header values to
// a Stripe-like structured scheme and a Standard-Webhooks-like list scheme.
// No random header carries a valid MAC, so Verify must fail, with one of the
// package's sentinel errors, and never panic.
func FuzzSignatureHeader(f *testing.F) {
	fuzzKey := []byte("fuzz-key-0123456789")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(fuzzKey)
	stripe := mustCompile(f, stripeLike(), secretsOf(testSecret))
	sw := mustCompile(f, standardLike(), secretsOf(whsec))
	wrongHex := hexSig(otherSecret, testNowTS, ".", testBody)
	wrongB64 := b64Sig([]byte(otherSecret), "msg_1.", testNowTS, ".", testBody)

	f.Add("t="+testNowTS+",v1="+wrongHex, testNowTS)
	f.Add("t="+testNowTS+",v1="+wrongHex+",v1="+wrongHex+",v0=00", testNowTS)
	f.Add("v1,"+wrongB64, testNowTS)
	f.Add("v1a,"+wrongB64+" v1,"+wrongB64+"  v1,"+strings.TrimRight(wrongB64, "="), testNowTS)
	f.Add(strings.Repeat("v1=00,", 40)+"t=", "")
	f.Add(strings.Repeat("v1,AAAA ", 40), "1e300")
	f.Add("t=,v1=zz", "NaN")
	f.Add("", "")
	f.Add("t=1700000000.5,v1="+strings.ToUpper(wrongHex), " 1700000000 ")
	f.Add("\x00,=,,==;v1==", "-9223372036854775808")

	f.Fuzz(func(t *testing.T, sig, unixText string) {
		reqs := []struct {
			name string
			v    *verify.Verifier
			h    http.Header
		}{
			{"stripe", stripe, http.Header{"Stripe-Signature": {sig}}},
			{"standard", sw, http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {unixText}, "Webhook-Signature": {sig}}},
		}
		for _, r := range reqs {
			for _, skip := range []bool{false, true} {
				req := &verify.Request{Method: http.MethodPost, URL: testURL, Header: r.h, Body: payload.New([]byte(testBody), jsonCT)}
				err := r.v.Verify(req, verify.Options{Now: testNow, SkipFreshness: skip})
				if err == nil {
					t.Fatalf("%s: random header %q (timestamp %q) verified", r.name, sig, unixText)
				}
				if !isSentinel(err) {
					t.Fatalf("%s: %v wraps none of the sentinel errors", r.name, err)
				}
			}
		}
	})
}

// FuzzFormBody signs random form bodies with a Twilio-like scheme (URL and
// sorted form fields): whenever Sign succeeds, Verify must accept what it
// produced and reject it with one more field; neither may panic.
func FuzzFormBody(f *testing.F) {
	scheme := twilioLike()
	v := mustCompile(f, scheme, secretsOf(testSecret))

	f.Add("CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212")
	f.Add("b=2&a=1&b=3&c=%2Fx+y&d=")
	f.Add("")
	f.Add("a")
	f.Add("=&=&&")
	f.Add("a=%zz")
	f.Add("a=1;b=2")
	f.Add("%E2%9C%93=%F0%9F%98%80&\xff=\xfe")
	f.Add("x=" + strings.Repeat("%41", 100))

	f.Fuzz(func(t *testing.T, body string) {
		m := verify.Message{Method: http.MethodPost, URL: testURL, ContentType: formCT, Body: []byte(body)}
		signed, err := verify.Sign(scheme, testSecret, m, testNow)
		if err != nil {
			if !errors.Is(err, verify.ErrSignatureMalformed) && !errors.Is(err, verify.ErrCannotSign) {
				t.Fatalf("Sign(%q): unexpected error %v", body, err)
			}
			// Verify must still not panic on a body Sign refused.
			req := &verify.Request{Method: http.MethodPost, URL: testURL,
				Header: http.Header{"X-Twilio-Signature": {"AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "Content-Type": {formCT}},
				Body:   payload.New([]byte(body), formCT)}
			if err := v.Verify(req, verify.Options{Now: testNow}); err == nil {
				t.Fatalf("Verify(%q) with a made-up signature succeeded", body)
			}
			return
		}
		if string(signed.Body) != body {
			t.Fatalf("Sign changed the form body %q to %q", body, signed.Body)
		}
		req := &verify.Request{Method: http.MethodPost, URL: signed.URL, Header: signed.Header, Body: payload.New(signed.Body, formCT)}
		if err := v.Verify(req, verify.Options{Now: testNow}); err != nil {
			t.Fatalf("Verify(%q) of what Sign produced: %v (signature %q)", body, err, signed.Header.Get("X-Twilio-Signature"))
		}
		extra := body + "&zz=1"
		req = &verify.Request{Method: http.MethodPost, URL: signed.URL, Header: signed.Header, Body: payload.New([]byte(extra), formCT)}
		if err := v.Verify(req, verify.Options{Now: testNow}); err == nil {
			t.Fatalf("Verify(%q) with the signature of %q succeeded", extra, body)
		}
	})
}
