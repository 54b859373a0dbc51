package verify_test

// Cross-checks of the engine and the built-in templates against providers'
// official Go SDKs, used as independent references. Each provider is checked
// in both directions the SDK allows: what the SDK signs (or what the SDK
// publishes as a signed example, when it cannot sign) must verify here and
// fail once the body is tampered with; what verify.Sign produces must pass
// the SDK's own verifier and fail there once tampered with.

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
	svix "github.com/svix/svix-webhooks/go"
	twilio "github.com/twilio/twilio-go/client"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// sdkNow is the fixed clock of the checks where the engine verifies: its
// Verify takes the time, so those checks need no wall clock. The SDKs'
// verifiers read time.Now themselves, so what they check is signed now.
var sdkNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

// templateVerifier returns the scheme of a built-in template and a verifier
// of it holding secret alone.
func templateVerifier(t *testing.T, id, secret string) (*plugsv1.SignatureScheme, *verify.Verifier) {
	t.Helper()
	tpl, err := templates.MustBuiltin().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	scheme := tpl.GetSignatureScheme()
	v, err := verify.Compile(scheme, []*plugsv1.SigningSecret{{Id: "sdk", Value: []byte(secret)}})
	if err != nil {
		t.Fatalf("compile %s: %v", id, err)
	}
	if p := v.Problems(); len(p) > 0 {
		t.Fatalf("compile %s: %v", id, p)
	}
	return scheme, v
}

func request(method, rawURL string, h http.Header, body []byte) *verify.Request {
	return &verify.Request{Method: method, URL: rawURL, Header: h, Body: payload.New(body, h.Get("Content-Type"))}
}

// tamper returns a copy of body with the first old replaced by new, so the
// body stays well-formed but says something else.
func tamper(t *testing.T, body []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(body, []byte(old)) {
		t.Fatalf("tamper: %q not in body %q", old, body)
	}
	return bytes.Replace(body, []byte(old), []byte(new), 1)
}

// accepts checks that v accepts req at now and rejects it as invalid once
// its body is replaced by tampered.
func accepts(t *testing.T, v *verify.Verifier, req *verify.Request, now time.Time, tampered []byte) {
	t.Helper()
	if err := v.Verify(req, verify.Options{Now: now}); err != nil {
		t.Fatalf("engine rejected what the SDK signed: %v", err)
	}
	bad := *req
	bad.Body = payload.New(tampered, req.Header.Get("Content-Type"))
	if err := v.Verify(&bad, verify.Options{Now: now}); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Fatalf("engine on a tampered body: got %v, want %v", err, verify.ErrSignatureInvalid)
	}
}

func TestOfficialSDKs(t *testing.T) {
	t.Run("stripe", testStripe)
	t.Run("standardwebhooks", testStandardWebhooks)
	t.Run("svix", testSvix)
	t.Run("paddle", testPaddle)
	t.Run("twilio", testTwilio)
	t.Run("openai", testOpenAI)
}

// Stripe: github.com/stripe/stripe-go, package webhook.
func testStripe(t *testing.T) {
	const secret = "whsec_plugs_sdk_crosscheck_7f3a9c"
	scheme, v := templateVerifier(t, "stripe", secret)
	// ConstructEvent insists on an event object of the SDK's API version.
	body := []byte(fmt.Sprintf(`{"id":"evt_1SdkCross","object":"event","api_version":%q,"created":1767225600,"type":"invoice.paid","livemode":false,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_42","amount_paid":2000,"currency":"usd"}}}`, stripe.APIVersion))
	tampered := tamper(t, body, `"amount_paid":2000`, `"amount_paid":9000`)

	t.Run("sdk_signs", func(t *testing.T) {
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: sdkNow})
		h := http.Header{"Content-Type": {"application/json"}, "Stripe-Signature": {sp.Header}}
		accepts(t, v, request("POST", "https://example.com/stripe", h, body), sdkNow, tampered)

		// Rotation: a v1 under another secret and a v0 next to ours.
		old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_retired", Timestamp: sdkNow})
		_, oldSig, _ := strings.Cut(old.Header, ",")
		_, sig, _ := strings.Cut(sp.Header, ",")
		h.Set("Stripe-Signature", fmt.Sprintf("t=%d,%s,%s,v0=%x", sdkNow.Unix(), oldSig, sig, old.Signature))
		accepts(t, v, request("POST", "https://example.com/stripe", h, body), sdkNow, tampered)

		// Only the retired secret's signature: no match.
		h.Set("Stripe-Signature", old.Header)
		if err := v.Verify(request("POST", "https://example.com/stripe", h, body), verify.Options{Now: sdkNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
			t.Errorf("signature under another secret: got %v, want %v", err, verify.ErrSignatureInvalid)
		}

		// Both sides use a 300 s tolerance.
		stale := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: sdkNow.Add(-301 * time.Second)})
		h.Set("Stripe-Signature", stale.Header)
		if err := v.Verify(request("POST", "https://example.com/stripe", h, body), verify.Options{Now: sdkNow}); !errors.Is(err, verify.ErrSignatureStale) {
			t.Errorf("301 s old signature: got %v, want %v", err, verify.ErrSignatureStale)
		}
		if d := scheme.GetTolerance().AsDuration(); d != webhook.DefaultTolerance {
			t.Errorf("template tolerance %v, SDK default %v", d, webhook.DefaultTolerance)
		}
	})

	t.Run("plugs_signs", func(t *testing.T) {
		signed, err := verify.Sign(scheme, secret, verify.Message{Method: "POST", URL: "https://example.com/stripe", ContentType: "application/json", Body: body}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(signed.Body, body) {
			t.Fatalf("Sign changed the body: %s", signed.Body)
		}
		header := signed.Header.Get("Stripe-Signature")
		ev, err := webhook.ConstructEventWithOptions(signed.Body, header, secret, webhook.ConstructEventOptions{})
		if err != nil {
			t.Fatalf("stripe-go rejected %q: %v", header, err)
		}
		if ev.ID != "evt_1SdkCross" {
			t.Errorf("event id %q", ev.ID)
		}
		if err := webhook.ValidatePayload(tampered, header, secret); !errors.Is(err, webhook.ErrNoValidSignature) {
			t.Errorf("stripe-go on a tampered body: got %v, want %v", err, webhook.ErrNoValidSignature)
		}
		if err := webhook.ValidatePayload(signed.Body, header, secret+"x"); !errors.Is(err, webhook.ErrNoValidSignature) {
			t.Errorf("stripe-go under another secret: got %v, want %v", err, webhook.ErrNoValidSignature)
		}
	})
}

// Standard Webhooks: the specification's reference Go library.
func testStandardWebhooks(t *testing.T) {
	// The secret of the specification's examples.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	scheme, v := templateVerifier(t, "standardwebhooks", secret)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"usage.recorded","timestamp":"2026-01-01T00:00:00Z","data":{"customer_id":"cus_42","quantity":"3"}}`)
	tampered := tamper(t, body, `"quantity":"3"`, `"quantity":"30"`)
	const msgID = "msg_2b5XN8AQM9LWM0D4loKWxJek"

	t.Run("sdk_signs", func(t *testing.T) {
		sig, err := wh.Sign(msgID, sdkNow, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(standardwebhooks.HeaderWebhookID, msgID)
		h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(sdkNow.Unix(), 10))
		h.Set(standardwebhooks.HeaderWebhookSignature, sig)
		accepts(t, v, request("POST", "https://example.com/sw", h, body), sdkNow, tampered)

		// Rotation: another secret's v1 and an asymmetric v1a before ours.
		other, err := standardwebhooks.NewWebhookRaw([]byte("retired key"))
		if err != nil {
			t.Fatal(err)
		}
		oldSig, _ := other.Sign(msgID, sdkNow, body)
		h.Set(standardwebhooks.HeaderWebhookSignature, oldSig+" v1a,aGVsbG8gd29ybGQ= "+sig)
		accepts(t, v, request("POST", "https://example.com/sw", h, body), sdkNow, tampered)

		// The message id is signed.
		h.Set(standardwebhooks.HeaderWebhookID, msgID+"x")
		if err := v.Verify(request("POST", "https://example.com/sw", h, body), verify.Options{Now: sdkNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
			t.Errorf("changed webhook-id: got %v, want %v", err, verify.ErrSignatureInvalid)
		}
	})

	t.Run("plugs_signs", func(t *testing.T) {
		m := verify.Message{Method: "POST", URL: "https://example.com/sw", ContentType: "application/json", Body: body,
			Header: http.Header{"Webhook-Id": {msgID}}}
		signed, err := verify.Sign(scheme, secret, m, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := signed.Header.Get(standardwebhooks.HeaderWebhookID); got != msgID {
			t.Fatalf("webhook-id %q, want %q", got, msgID)
		}
		if err := wh.Verify(signed.Body, signed.Header); err != nil {
			t.Fatalf("standardwebhooks rejected %v: %v", signed.Header, err)
		}
		if err := wh.Verify(tampered, signed.Header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			t.Errorf("standardwebhooks on a tampered body: got %v, want %v", err, standardwebhooks.ErrNoMatchingSignature)
		}
	})
}

// Svix: github.com/svix/svix-webhooks/go.
func testSvix(t *testing.T) {
	const secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	scheme, v := templateVerifier(t, "svix", secret)
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"invoice.paid","data":{"id":"inv_2aHk3","customer_id":"cus_42","quantity":"1","amount":4900}}`)
	tampered := tamper(t, body, `"amount":4900`, `"amount":4901`)
	const msgID = "msg_2aHk3svixCrossCheck"

	t.Run("sdk_signs", func(t *testing.T) {
		sig, err := wh.Sign(msgID, sdkNow, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("svix-id", msgID)
		h.Set("svix-timestamp", strconv.FormatInt(sdkNow.Unix(), 10))
		h.Set("svix-signature", sig)
		accepts(t, v, request("POST", "https://example.com/svix", h, body), sdkNow, tampered)

		// Signed six minutes ago: Svix's five-minute window is the template's.
		old, _ := wh.Sign(msgID, sdkNow.Add(-6*time.Minute), body)
		h.Set("svix-timestamp", strconv.FormatInt(sdkNow.Add(-6*time.Minute).Unix(), 10))
		h.Set("svix-signature", old)
		if err := v.Verify(request("POST", "https://example.com/svix", h, body), verify.Options{Now: sdkNow}); !errors.Is(err, verify.ErrSignatureStale) {
			t.Errorf("six-minute-old signature: got %v, want %v", err, verify.ErrSignatureStale)
		}
	})

	t.Run("plugs_signs", func(t *testing.T) {
		// No id given: Sign makes one up, and it must be the one signed.
		signed, err := verify.Sign(scheme, secret, verify.Message{Method: "POST", URL: "https://example.com/svix", ContentType: "application/json", Body: body}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if signed.Header.Get("svix-id") == "" {
			t.Fatalf("no svix-id in %v", signed.Header)
		}
		if err := wh.Verify(signed.Body, signed.Header); err != nil {
			t.Fatalf("svix rejected %v: %v", signed.Header, err)
		}
		if err := wh.Verify(tampered, signed.Header); err == nil {
			t.Error("svix accepted a tampered body")
		}
		bad := signed.Header.Clone()
		bad.Set("svix-id", "msg_other")
		if err := wh.Verify(signed.Body, bad); err == nil {
			t.Error("svix accepted a changed svix-id")
		}
	})
}

// Paddle Billing: github.com/PaddleHQ/paddle-go-sdk. The SDK verifies but
// does not sign, so the other direction uses the signed example it ships
// (example_webhook_verifier_test.go of v4.1.0).
func testPaddle(t *testing.T) {
	const (
		sdkSecret    = `pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr`
		sdkSignature = `ts=1710929255;h1=6c05ef8fa83c44d751be6d259ec955ce5638e2c54095bf128e408e2fce1589c8`
		sdkPayload   = `{"data":{"id":"pri_01hsdn96k2hxjzsq5yerecdj9j","name":null,"status":"active","quantity":{"maximum":999999,"minimum":1},"tax_mode":"account_setting","product_id":"pro_01hsdn8qp7yydry3x1yeg6a9rv","unit_price":{"amount":"1000","currency_code":"USD"},"custom_data":null,"description":"testing","import_meta":null,"trial_period":null,"billing_cycle":{"interval":"month","frequency":1},"unit_price_overrides":[]},"event_id":"evt_01hsdn97563968dy0szkmgjwh3","event_type":"price.created","occurred_at":"2024-03-20T10:07:35.590857Z","notification_id":"ntf_01hsdn977e920kbgzt6r6c9rqc"}`
	)
	scheme, v := templateVerifier(t, "paddle", sdkSecret)
	tolerance := scheme.GetTolerance().AsDuration()

	t.Run("sdk_example", func(t *testing.T) {
		body := []byte(sdkPayload)
		// The SDK itself accepts its example (without a tolerance: it is old).
		r := httptest.NewRequest("POST", "https://example.com/paddle", bytes.NewReader(body))
		r.Header.Set("Paddle-Signature", sdkSignature)
		if ok, err := paddle.NewWebhookVerifier(sdkSecret).Verify(r); !ok || err != nil {
			t.Fatalf("paddle-go-sdk rejects its own example: %v %v", ok, err)
		}
		h := http.Header{"Content-Type": {"application/json"}, "Paddle-Signature": {sdkSignature}}
		ts := time.Unix(1710929255, 0)
		accepts(t, v, request("POST", "https://example.com/paddle", h, body), ts, tamper(t, body, `"amount":"1000"`, `"amount":"1"`))
		if err := v.Verify(request("POST", "https://example.com/paddle", h, body), verify.Options{Now: ts.Add(tolerance + time.Second)}); !errors.Is(err, verify.ErrSignatureStale) {
			t.Errorf("past the %v tolerance: got %v, want %v", tolerance, err, verify.ErrSignatureStale)
		}
	})

	t.Run("plugs_signs", func(t *testing.T) {
		const secret = "pdl_ntfset_01jplugscrosscheck_q1w2e3r4t5y6u7i8o9p0"
		tpl, _ := templates.MustBuiltin().Get("paddle")
		body := []byte(tpl.GetSamplePayload())
		tampered := tamper(t, body, `"quantity":10`, `"quantity":11`)
		signed, err := verify.Sign(scheme, secret, verify.Message{Method: "POST", URL: "https://example.com/paddle", ContentType: "application/json", Body: body}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// The SDK with the template's own tolerance.
		sdk := paddle.NewWebhookVerifier(secret, paddle.VerifierWithTimestampTolerance(tolerance))
		send := func(b []byte) (bool, error) {
			r := httptest.NewRequest("POST", "https://example.com/paddle", bytes.NewReader(b))
			r.Header = signed.Header.Clone()
			return sdk.Verify(r)
		}
		if ok, err := send(signed.Body); !ok || err != nil {
			t.Fatalf("paddle-go-sdk rejected %q: ok=%v err=%v", signed.Header.Get("Paddle-Signature"), ok, err)
		}
		if ok, err := send(tampered); ok || err != nil {
			t.Errorf("paddle-go-sdk on a tampered body: ok=%v err=%v, want false <nil>", ok, err)
		}
		if ok, _ := paddle.NewWebhookVerifier(sdkSecret).Verify(httptest.NewRequest("POST", "/", bytes.NewReader(signed.Body))); ok {
			t.Error("paddle-go-sdk accepted a request without a signature")
		}
	})
}

// Twilio: github.com/twilio/twilio-go, package client. RequestValidator only
// verifies, so the other direction uses the signed examples of its tests
// (client/request_validator_test.go of v1.31.0), auth token "12345".
func testTwilio(t *testing.T) {
	const token = "12345"
	scheme, v := templateVerifier(t, "twilio", token)
	rv := twilio.NewRequestValidator(token)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

	t.Run("sdk_examples", func(t *testing.T) {
		const sdkURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
		cases := []struct {
			name, body, sig, old, new string
		}{
			// Validate's example: "Reason" must sort before
			// "ReasonConferenceEnded" (byte order, not by key=value).
			{"params", url.Values{
				"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
				"Caller": {"+14158675309"}, "From": {"+14158675309"},
				"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
			}.Encode(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", "Digits=1234", "Digits=1235"},
			// ValidateBody's form example.
			{"form_body", "property=value&boolean=true", "NBdBDr/T/lgjI+tlgpXjKZQZs/k=", "boolean=true", "boolean=false"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if !rv.ValidateBody(sdkURL, []byte(c.body), c.sig) {
					t.Fatalf("twilio-go rejects its own example %q", c.body)
				}
				h := form.Clone()
				h.Set("X-Twilio-Signature", c.sig)
				body := []byte(c.body)
				accepts(t, v, request("POST", sdkURL, h, body), sdkNow, tamper(t, body, c.old, c.new))
				// The URL is signed too.
				if err := v.Verify(request("POST", strings.Replace(sdkURL, "foo=1", "foo=2", 1), h, body), verify.Options{Now: sdkNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Errorf("changed URL: got %v, want %v", err, verify.ErrSignatureInvalid)
				}
			})
		}
	})

	t.Run("plugs_signs", func(t *testing.T) {
		const hookURL = "https://example.com/twilio/sms?source=src_1&x=%2Fy"
		tpl, _ := templates.MustBuiltin().Get("twilio")
		for name, body := range map[string]string{
			"sample": strings.TrimSpace(tpl.GetSamplePayload()),
			// Escapes, UTF-8, an empty value and a name that prefixes another.
			"escapes": "Body=Caf%C3%A9+%26+cr%C3%A8me%3D%3F&From=%2B15017122661&NumMedia=0&MediaUrl=&To=%2B15558675310&ToCity=Z%C3%BCrich&To2=x",
		} {
			t.Run(name, func(t *testing.T) {
				signed, err := verify.Sign(scheme, token, verify.Message{Method: "POST", URL: hookURL, ContentType: "application/x-www-form-urlencoded", Body: []byte(body)}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				sig := signed.Header.Get("X-Twilio-Signature")
				if !rv.ValidateBody(hookURL, signed.Body, sig) {
					t.Fatalf("twilio-go ValidateBody rejected %q for %s", sig, body)
				}
				q, err := url.ParseQuery(body)
				if err != nil {
					t.Fatal(err)
				}
				params := map[string]string{}
				for k, vals := range q {
					params[k] = vals[0]
				}
				if !rv.Validate(hookURL, params, sig) {
					t.Errorf("twilio-go Validate rejected %q", sig)
				}
				if rv.ValidateBody(hookURL, tamper(t, signed.Body, "%2B1555867531", "%2B1555867532"), sig) {
					t.Error("twilio-go accepted a tampered body")
				}
				if rv.ValidateBody(strings.Replace(hookURL, "src_1", "src_2", 1), signed.Body, sig) {
					t.Error("twilio-go accepted another URL")
				}
			})
		}
	})
}
