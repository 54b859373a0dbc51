package templates_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// paymentRecipes adds the recipes of payments, billing and commerce providers.
func paymentRecipes(t *testing.T, add func(recipe)) {
	{
		// Basic credentials as an HTTP client sends them (RFC 7617).
		secret := "plugs-hooks:9c1f6b2e7a"
		add(recipe{template: "chargebee", source: "https://www.chargebee.com/docs/2.0/webhook_settings.html",
			secret: secret, body: sample(t, "chargebee"),
			header: headers("Content-Type", "application/json",
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(secret)))})
	}
	{
		secret, body, ts := "orb-webhook-secret-3f9a", sample(t, "orb"), "2026-03-02T10:29:59.418021"
		add(recipe{template: "orb", source: "https://unpkg.com/orb-billing@5.47.0/src/resources/webhooks.ts",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Orb-Timestamp", ts,
				"X-Orb-Signature", "v1="+hexMAC(sha256.New, []byte(secret), "v1:", ts, ":", body))})
	}
	{
		// Polar's validateEvent: new Webhook(base64(secret)), that is the
		// secret's own bytes as the HMAC key of the reference library.
		secret, body := "polar_whs_Dk2b8hQ1v7sLr0YxW3eA9mTn", sample(t, "polar")
		add(recipe{template: "polar", source: "https://github.com/polarsource/polar-js/blob/main/src/webhooks.ts",
			secret: secret, body: body,
			header: standardSigned(t, []byte(secret), "webhook-id", "webhook-timestamp", "webhook-signature", "msg_2c7Wqk5r8y0aT1", body)})
	}
	{
		secret, body, ts := "workos-wh-secret-b7c2", sample(t, "workos"), unixMilli()
		add(recipe{template: "workos", source: "https://www.rubydoc.info/gems/workos/5.17.0/WorkOS/Webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json",
				"WorkOS-Signature", "t="+ts+", v1="+hexMAC(sha256.New, []byte(secret), ts, ".", body))})
	}
	{
		secret := "Bearer rc_wh_5f0e2a9c71"
		add(recipe{template: "revenuecat", source: "https://www.revenuecat.com/docs/integrations/webhooks",
			secret: secret, body: sample(t, "revenuecat"),
			header: headers("Content-Type", "application/json", "Authorization", secret)})
	}
	{
		secret, body, ts := "mux-signing-secret-2b8d", sample(t, "mux"), unix()
		add(recipe{template: "mux", source: "https://mux.com/docs/core/verify-webhook-signatures",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json",
				"Mux-Signature", "t="+ts+",v1="+hexMAC(sha256.New, []byte(secret), ts, ".", body))})
	}
	{
		secret, body := "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", sample(t, "replicate")
		add(recipe{template: "replicate", source: "https://replicate.com/docs/topics/webhooks/verify-webhook",
			secret: secret, body: body,
			header: standardSigned(t, whsecKey(t, secret), "webhook-id", "webhook-timestamp", "webhook-signature", "msg_29I7ao0Ip8tbd0xwfM9Ra7Yx6dA", body)})
	}
	{
		secret, body, ts := "cashfree-client-secret-91c3", sample(t, "cashfree"), unixMilli()
		add(recipe{template: "cashfree", source: "https://www.cashfree.com/docs/payments/online/webhooks/signature-verification",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "x-webhook-timestamp", ts,
				"x-webhook-signature", b64MAC(sha256.New, []byte(secret), ts, body))})
	}
	{
		secret, body, ts := "wsk_r59a4HfWVAKycbCaNO1RvgCJec02gRd8", sample(t, "revolut"), unixMilli()
		add(recipe{template: "revolut", source: "https://developer.revolut.com/docs/guides/manage-accounts/webhooks/verify-the-payload-signature",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Revolut-Request-Timestamp", ts,
				"Revolut-Signature", "v1="+hexMAC(sha256.New, []byte("wsk_other_active_secret"), "v1.", ts, ".", body)+
					",v1="+hexMAC(sha256.New, []byte(secret), "v1.", ts, ".", body))})
	}
	{
		secret, body, ts := "whsec_airwallex_4f1c9e2b7a", sample(t, "airwallex"), unixMilli()
		add(recipe{template: "airwallex", source: "https://www.airwallex.com/docs/developer-tools__listen-for-webhook-events",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "x-timestamp", ts,
				"x-signature", hexMAC(sha256.New, []byte(secret), ts, body))})
	}
	{
		// The signed string is two body fields, eventCreated and eventId.
		secret, body := "abcde123456789", sample(t, "ecwid")
		add(recipe{template: "ecwid", source: "https://api-docs.ecwid.com/reference/authenticate-webhooks-with-signature",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json",
				"X-Ecwid-Webhook-Signature", b64MAC(sha256.New, []byte(secret), "1709374200", ".", "80aece08-40e8-4145-8764-6c2f0d38678a")),
			tamper: func(b string) string { return strings.Replace(b, "1709374200", "1709374201", 1) }})
	}
	{
		// The site's Shared Key over the raw form body, lowercase hex, as
		// Maxio's verification examples compute it.
		secret, body := "b65ca1b9a6eaea838b7c536ca0ca5fe634214b5d", sample(t, "maxio")
		add(recipe{template: "maxio", source: "https://gist.github.com/mediocretes/a0c4ac069dec105b167e",
			secret: secret, body: body,
			header: headers("Content-Type", "application/x-www-form-urlencoded", "X-Chargify-Webhook-Id", "1289012345",
				"X-Chargify-Webhook-Signature-Hmac-Sha-256", hexMAC(sha256.New, []byte(secret), body)),
			tamper: func(b string) string { return strings.Replace(b, "renewal_success", "renewal_failure", 1) }})
	}
	{
		// Braintree's SDK (braintree_ruby, Digest.hexdigest and
		// WebhookNotificationGateway#_verify_signature): HMAC-SHA1 of
		// bt_payload keyed with SHA-1 of the private key, sent as
		// "public_key|hex"; a pair for another key pair comes first.
		privateKey := "b8f6a2f1c3d94e7a8b2c5d6e7f8a9b0c"
		key := sha1.Sum([]byte(privateKey))
		other := sha1.Sum([]byte("another-private-key"))
		form, err := url.ParseQuery(sample(t, "braintree"))
		if err != nil {
			t.Fatal(err)
		}
		bt := form.Get("bt_payload")
		form.Set("bt_signature", "other_public_key|"+hexMAC(sha1.New, other[:], bt)+"&my_public_key|"+hexMAC(sha1.New, key[:], bt))
		add(recipe{template: "braintree", source: "https://github.com/braintree/braintree_ruby/blob/master/lib/braintree/webhook_notification_gateway.rb",
			secret: privateKey, body: form.Encode(),
			header: headers("Content-Type", "application/x-www-form-urlencoded"),
			tamper: func(b string) string { return strings.Replace(b, "bt_payload=PG5", "bt_payload=PG6", 1) }})
	}
}
