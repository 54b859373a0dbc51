package verify_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/webhooks"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/plugshq/plugs/dataplane/verify"
)

// OpenAI: github.com/openai/openai-go/v3, package webhooks. The SDK verifies
// but does not sign; OpenAI signs the Standard Webhooks way, so the other
// direction signs with the specification's reference library under the
// same whsec_ secret.
func testOpenAI(t *testing.T) {
	const secret = "whsec_Zm9yIHRoZSBvcGVuYWkgdGVtcGxhdGUgc2RrIGNoZWNr"
	scheme, v := templateVerifier(t, "openai", secret)
	svc := webhooks.NewWebhookService(option.WithWebhookSecret(secret))
	body := []byte(`{"id":"evt_685343a1381c819085d44c354e1b330e","object":"event","created_at":1772447398,"type":"response.completed","data":{"id":"resp_abc123"}}`)
	tampered := tamper(t, body, "resp_abc123", "resp_abc124")
	const msgID = "wh_685342e6c53c8190a1be43f081506c52"

	t.Run("sdk_verifies_plugs", func(t *testing.T) {
		m := verify.Message{Method: "POST", URL: "https://example.com/openai", ContentType: "application/json", Body: body,
			Header: http.Header{"Webhook-Id": {msgID}}}
		now := time.Now()
		signed, err := verify.Sign(scheme, secret, m, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.VerifySignatureWithToleranceAndTime(signed.Body, signed.Header, 5*time.Minute, now); err != nil {
			t.Fatalf("openai-go rejected %v: %v", signed.Header, err)
		}
		if err := svc.VerifySignatureWithToleranceAndTime(tampered, signed.Header, 5*time.Minute, now); err == nil {
			t.Error("openai-go accepted a tampered body")
		}
	})

	t.Run("plugs_verifies_reference", func(t *testing.T) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign(msgID, sdkNow, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("webhook-id", msgID)
		h.Set("webhook-timestamp", strconv.FormatInt(sdkNow.Unix(), 10))
		h.Set("webhook-signature", sig)
		// What the reference library signs, openai-go accepts too.
		if err := svc.VerifySignatureWithToleranceAndTime(body, h, 5*time.Minute, sdkNow); err != nil {
			t.Fatalf("openai-go rejected the reference signature: %v", err)
		}
		accepts(t, v, request("POST", "https://example.com/openai", h, body), sdkNow, tampered)
	})
}
