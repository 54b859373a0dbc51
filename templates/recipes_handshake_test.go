package templates_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// handshakeRecipes adds the recipes of providers that also perform a
// handshake (the handshakes themselves are checked in handshake_test.go)
// and of the signature shapes added with them.
func handshakeRecipes(t *testing.T, add func(recipe)) {
	{
		// The secret is the X-Hook-Secret of Asana's own example handshake.
		secret, body := "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81", sample(t, "asana")
		add(recipe{template: "asana", source: "https://developers.asana.com/docs/webhooks-guide#security",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Hook-Signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "dropbox-app-secret-9f3c2a", sample(t, "dropbox")
		add(recipe{template: "dropbox", source: "https://www.dropbox.com/developers/reference/webhooks#notifications",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Dropbox-Signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		// clientState is compared as sent; it is in every notification.
		secret := "graph-client-state-5b1e9d7c"
		body := `{"value":[{"subscriptionId":"10493aa0-4d29-4df5-bc0c-ef742cc6cd7f","clientState":"` + secret + `","changeType":"created","resource":"Users/1/Messages/2","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"},{"subscriptionId":"10493aa0-4d29-4df5-bc0c-ef742cc6cd7f","clientState":"` + secret + `","changeType":"updated","resource":"Users/1/Messages/3","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"}]}`
		add(recipe{template: "microsoftgraph", source: "https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks#receive-notifications",
			secret: secret, body: body, header: headers("Content-Type", "application/json")})
	}
	{
		// "<Unix ms>,<sig>": HMAC-SHA256 of "<timestamp>.<body>"; a second
		// signature (another active secret of the endpoint) is ignored.
		secret, body, ts := "recurly-webhook-key-4c9e1b", sample(t, "recurly"), unixMilli()
		other := hexMAC(sha256.New, []byte("another-endpoint-key"), ts, ".", body)
		add(recipe{template: "recurly", source: "https://docs.recurly.com/recurly-subscriptions/docs/signature-verification#manual-check",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json",
				"recurly-signature", ts+","+other+","+hexMAC(sha256.New, []byte(secret), ts, ".", body))})
	}
	{
		// message id + timestamp + body, RFC 3339 with nanoseconds as
		// Twitch sends it.
		secret, body, id := "twitch-eventsub-secret-0b7d", sample(t, "twitch"), "e76c6bd4-55c9-4987-8304-da1588d8988b"
		ts := recipeNow.Add(-1500 * time.Millisecond).Format(time.RFC3339Nano)
		add(recipe{template: "twitch", source: "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Twitch-Eventsub-Message-Id", id,
				"Twitch-Eventsub-Message-Timestamp", ts, "Twitch-Eventsub-Message-Type", "notification",
				"Twitch-Eventsub-Message-Signature", "sha256="+hexMAC(sha256.New, []byte(secret), id, ts, body))})
	}
	{
		// body then timestamp, signed under each of the two keys; the
		// source holds the secondary key only.
		primary, secondary, body := "box-primary-key-7f2c", "box-secondary-key-1a9e", sample(t, "box")
		ts := recipeNow.Add(-30 * time.Second).Format(time.RFC3339)
		add(recipe{template: "box", source: "https://developer.box.com/guides/webhooks/v2/signatures-v2/#manual-signature-verification",
			secret: secondary, body: body,
			header: headers("Content-Type", "application/json", "BOX-DELIVERY-TIMESTAMP", ts,
				"BOX-SIGNATURE-PRIMARY", b64MAC(sha256.New, []byte(primary), body, ts),
				"BOX-SIGNATURE-SECONDARY", b64MAC(sha256.New, []byte(secondary), body, ts))})
	}
	{
		secret, body := "nylas-webhook-secret-5d1a", sample(t, "nylas")
		add(recipe{template: "nylas", source: "https://developer.nylas.com/docs/v3/notifications/webhooks/#verify-webhook-signatures",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "x-nylas-signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		// body + callbackURL, HMAC-SHA1, base64.
		secret, body := "trello-oauth-secret-0c4f", sample(t, "trello")
		callback := "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001?board=roadmap"
		add(recipe{template: "trello", source: "https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/#webhook-signatures",
			secret: secret, body: body, url: callback,
			header: headers("Content-Type", "application/json", "X-Trello-Webhook", b64MAC(sha1.New, []byte(secret), body, callback))})
	}
	{
		secret, body := "pandadoc-shared-key-8b3e", sample(t, "pandadoc")
		add(recipe{template: "pandadoc", source: "https://developers.pandadoc.com/docs/webhook-verification",
			secret: secret, body: body,
			url:    "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001?signature=" + url.QueryEscape(hexMAC(sha256.New, []byte(secret), body)),
			header: headers("Content-Type", "application/json")})
	}
	{
		// SHA-1 hex of body + timestamp + API secret: a plain digest.
		secret, body, ts := "cloudinary-api-secret-a1b2c3", sample(t, "cloudinary"), unix()
		sum := sha1.Sum([]byte(body + ts + secret))
		add(recipe{template: "cloudinary", source: "https://cloudinary.com/documentation/notification_signatures#manually_verify_the_signature",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Cld-Timestamp", ts, "X-Cld-Signature", hex.EncodeToString(sum[:]))})
	}
	{
		secret, body := "patreon-webhook-secret-3e7d", sample(t, "patreon")
		add(recipe{template: "patreon", source: "https://docs.patreon.com/#webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Patreon-Event", "members:pledge:create",
				"X-Patreon-Signature", hexMAC(md5.New, []byte(secret), body))})
	}
	{
		secret, body := "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl", sample(t, "notion")
		add(recipe{template: "notion", source: "https://developers.notion.com/reference/webhooks#validating-event-payloads",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Notion-Signature", "sha256="+hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		// The manifest over the URL's data.id (an alphanumeric order id,
		// lowercased), x-request-id and ts.
		secret, body, ts := "mercadopago-webhook-secret-6f0d", sample(t, "mercadopago"), unix()
		manifest := "id:ord01jq4s4ky8hwq6na5pxb65b3d3;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:" + ts + ";"
		add(recipe{template: "mercadopago", source: "https://www.mercadopago.com.mx/developers/en/docs/checkout-pro/payment-notifications",
			secret: secret, body: body,
			url: "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001?data.id=ORD01JQ4S4KY8HWQ6NA5PXB65B3D3&type=order",
			header: headers("Content-Type", "application/json", "x-request-id", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e",
				"x-signature", "ts="+ts+",v1="+hexMAC(sha256.New, []byte(secret), manifest)),
			// Only the URL and headers are signed: another data.id fails.
			tamperURL: func(u string) string { return strings.Replace(u, "ORD01", "ORD02", 1) }})
	}
	{
		// date + "\n" + body, the date as a Date header writes it; sent in
		// the Date header alone.
		secret, body := "metronome-webhook-secret-9c2b", sample(t, "metronome")
		date := recipeNow.Add(-time.Minute).Format(http.TimeFormat)
		add(recipe{template: "metronome", source: "https://github.com/Metronome-Industries/metronome-node/blob/main/src/resources/webhooks.ts",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Date", date,
				"Metronome-Webhook-Signature", hexMAC(sha256.New, []byte(secret), date, "\n", body))})
	}
	{
		// body + Klaviyo-Timestamp (an HTTP date), no separator, hex.
		secret, body := "klaviyo-webhook-secret-2d8a1f", sample(t, "klaviyo")
		ts := recipeNow.Add(-20 * time.Second).Format(http.TimeFormat)
		add(recipe{template: "klaviyo", source: "https://developers.klaviyo.com/en/docs/working_with_system_webhooks#verify-the-webhook-request",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Klaviyo-Timestamp", ts,
				"Klaviyo-Signature", hexMAC(sha256.New, []byte(secret), body, ts))})
	}
	{
		// URL + each POST field sorted by name, name then value.
		key, body := "mandrill-webhook-key-3b5e", sample(t, "mandrill")
		form, err := url.ParseQuery(body)
		if err != nil {
			t.Fatal(err)
		}
		callback := "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001"
		add(recipe{template: "mandrill", source: "https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests",
			secret: key, body: body, url: callback,
			header: headers("Content-Type", "application/x-www-form-urlencoded",
				"X-Mandrill-Signature", b64MAC(sha1.New, []byte(key), callback, "mandrill_events", form.Get("mandrill_events"))),
			tamper: func(body string) string { return body + "&extra=1" }})
	}
	{
		// The secret in the webhook URL's query string.
		secret, body := "mailchimp-url-secret-7e1c9a", sample(t, "mailchimp")
		add(recipe{template: "mailchimp", source: "https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/#securing-your-webhook",
			secret: secret, body: body,
			url:    "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001?secret=" + secret,
			header: headers("Content-Type", "application/x-www-form-urlencoded")})
	}
	{
		// SHA-512 hex of order_id + status_code + gross_amount + server key.
		serverKey := "SB-Mid-server-TvgWB_Y9s81-rbMBH7zZ8BHW"
		sum := sha512.Sum512([]byte("order-1001" + "200" + "24145.00" + serverKey))
		body := strings.Replace(sample(t, "midtrans"), `"signature_key":"placeholder"`, `"signature_key":"`+hex.EncodeToString(sum[:])+`"`, 1)
		add(recipe{template: "midtrans", source: "https://docs.midtrans.com/docs/https-notification-webhooks#verifying-notification-authenticity",
			secret: serverKey, body: body, header: headers("Content-Type", "application/json"),
			tamper: func(body string) string {
				return strings.Replace(body, `"gross_amount":"24145.00"`, `"gross_amount":"1.00"`, 1)
			}})
	}
	{
		// SHA-256 hex of the client secret followed by the body.
		secret, body := "recharge-client-secret-4a1f", sample(t, "recharge")
		sum := sha256.Sum256([]byte(secret + body))
		add(recipe{template: "recharge", source: "https://docs.getrecharge.com/docs/webhooks-overview#validating-webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Recharge-Topic", "charge/paid", "X-Recharge-Hmac-Sha256", hex.EncodeToString(sum[:]))})
	}
	{
		// Signed with the Standard Webhooks reference library, once under
		// Svix's header names and once under the standard ones.
		secret, body := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sample(t, "stytch")
		key := whsecKey(t, secret)
		add(recipe{template: "stytch", source: "https://stytch.com/docs/workspace-management/webhooks",
			secret: secret, body: body, header: standardSigned(t, key, "svix-id", "svix-timestamp", "svix-signature", "msg_p5jXN8AQM9LWM0D4loKWxJek", body)})
		add(recipe{template: "stytch", source: "https://docs.svix.com/receiving/verifying-payloads/how-manual",
			secret: secret, body: body, header: standardSigned(t, key, "webhook-id", "webhook-timestamp", "webhook-signature", "msg_p5jXN8AQM9LWM0D4loKWxJek", body)})
	}
}
