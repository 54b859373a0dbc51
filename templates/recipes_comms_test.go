package templates_test

import (
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// Recipes of communications and source-control providers.
func commsRecipes(t *testing.T, add func(recipe)) {
	{
		secret, body := "gitea-webhook-secret-8c1d", sample(t, "gitea")
		add(recipe{template: "gitea", source: "https://docs.gitea.com/features/webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Gitea-Event", "push",
				"X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473",
				"X-Gitea-Signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		// Microsoft's sample receiver: the security token is base64, its
		// decoded bytes are the HMAC key.
		secret, body := "+ZaRRMC8+mpnfGaGsBOmkIFt98bttL5YQRq3p2tXgcE=", sample(t, "msteams")
		key, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			t.Fatal(err)
		}
		add(recipe{template: "msteams", source: "https://github.com/OfficeDev/msteams-samples-outgoing-webhook-nodejs/blob/master/app.js",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Authorization", "HMAC "+b64MAC(sha256.New, key, body))})
	}
	{
		secret, body := "webex-webhook-secret-6d3e", sample(t, "webex")
		add(recipe{template: "webex", source: "https://developer.webex.com/docs/receive-and-verify-webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Spark-Signature", hexMAC(sha1.New, []byte(secret), body))})
	}
}

func workRecipes(t *testing.T, add func(recipe)) {
	{
		secret, body := "docusign-connect-key-9a8b", sample(t, "docusign")
		add(recipe{template: "docusign", source: "https://developers.docusign.com/platform/webhooks/connect/validate/",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-DocuSign-Signature-1", b64MAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "helpscout-secret-key-2f7c", sample(t, "helpscout")
		add(recipe{template: "helpscout", source: "https://developer.helpscout.com/webhooks/",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-HelpScout-Event", "convo.created",
				"X-HelpScout-Signature", b64MAC(sha1.New, []byte(secret), body))})
	}
	{
		secret, body := "todoist-client-secret-4b1e", sample(t, "todoist")
		add(recipe{template: "todoist", source: "https://doist.github.io/todoist-sdk-typescript/api/type-aliases/VerifyWebhookSignatureArgs",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Todoist-Delivery-ID", "2b5f3c8a-1d4e-4f6a-9b7c-0e1d2c3b4a59",
				"X-Todoist-Hmac-SHA256", b64MAC(sha256.New, []byte(secret), body))})
	}
}

func messagingRecipes(t *testing.T, add func(recipe)) {
	{
		secret := "plugs-pipedrive:7c1e9a3f5b"
		add(recipe{template: "pipedrive", source: "https://pipedrive.readme.io/docs/guide-for-webhooks-v2",
			secret: secret, body: sample(t, "pipedrive"),
			header: headers("Content-Type", "application/json",
				"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(secret)))})
	}
	{
		// setWebhook's secret_token: 1-256 of A-Z a-z 0-9 _ -.
		secret := "tg_Secret-Token_7Hk2pQ9x"
		add(recipe{template: "telegram", source: "https://core.telegram.org/bots/api#setwebhook",
			secret: secret, body: sample(t, "telegram"),
			header: headers("Content-Type", "application/json", "X-Telegram-Bot-Api-Secret-Token", secret)})
	}
	{
		secret := "hf-webhook-secret-3e9d"
		add(recipe{template: "huggingface", source: "https://huggingface.co/docs/hub/webhooks",
			secret: secret, body: sample(t, "huggingface"),
			header: headers("Content-Type", "application/json", "X-Webhook-Secret", secret)})
	}
	{
		secret := "xnd_callback_token_8YbQ2kLm5NvR"
		add(recipe{template: "xendit", source: "https://docs.xendit.co/webhook/getting-started/",
			secret: secret, body: sample(t, "xendit"),
			header: headers("Content-Type", "application/json", "x-callback-token", secret)})
	}
	{
		secret, body := "line-channel-secret-5a6b", sample(t, "line")
		add(recipe{template: "line", source: "https://line.github.io/line-bot-sdk-nodejs/apidocs/functions/validateSignature.html",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "x-line-signature", b64MAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "easypost-webhook-secret-3c4d", sample(t, "easypost")
		add(recipe{template: "easypost", source: "https://docs.easypost.com/docs/webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Hmac-Signature", "hmac-sha256-hex="+hexMAC(sha256.New, []byte(secret), body))})
	}
}

func keyRecipes(t *testing.T, add func(recipe)) {
	{
		// Telnyx's recipe: Ed25519 over timestamp + "|" + body, the
		// account's base64 public key configured as the secret.
		seed := make([]byte, ed25519.SeedSize)
		for i := range seed {
			seed[i] = byte(i * 7)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		body, ts := sample(t, "telnyx"), unix()
		sig := ed25519.Sign(priv, []byte(ts+"|"+body))
		add(recipe{template: "telnyx", source: "https://www.rubydoc.info/gems/telnyx/Telnyx/Lib/WebhookVerification",
			secret: base64.StdEncoding.EncodeToString(pub), body: body,
			header: headers("Content-Type", "application/json", "telnyx-timestamp", ts,
				"telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(sig))})
	}
}

func moreRecipes(t *testing.T, add func(recipe)) {
	{
		secret, body := "tally-signing-secret-1e2f", sample(t, "tally")
		add(recipe{template: "tally", source: "https://tally.so/help/webhooks",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Tally-Signature", b64MAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "plain-request-signing-secret-7a8b", sample(t, "plain")
		add(recipe{template: "plain", source: "https://plain.com/docs/request-signing",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "Plain-Request-Signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "e3f93c7c-c92b-4b8f-a9b1-5b70e0891abc", sample(t, "fourthwall")
		add(recipe{template: "fourthwall", source: "https://docs.fourthwall.com/webhooks/signature-verification",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Fourthwall-Hmac-SHA256", b64MAC(sha256.New, []byte(secret), body))})
	}
	{
		secret, body := "aftership-webhook-secret-6c7d", sample(t, "aftership")
		add(recipe{template: "aftership", source: "https://www.aftership.com/docs/tracking/webhook/webhook-signature",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "aftership-hmac-sha256", b64MAC(sha256.New, []byte(secret), body))})
	}
	{
		// stream-chat-go Client.VerifyWebhook: hex HMAC-SHA256 of the body
		// under the API secret.
		secret, body := "stream-api-secret-8fk2m9qz4w", sample(t, "streamchat")
		add(recipe{template: "streamchat", source: "https://github.com/GetStream/stream-chat-go/blob/master/client.go",
			secret: secret, body: body,
			header: headers("Content-Type", "application/json", "X-Webhook-Id", "123e4567-e89b-12d3-a456-426614174000",
				"X-Webhook-Attempt", "1", "X-Api-Key", "a1b23cdefgh4",
				"X-Signature", hexMAC(sha256.New, []byte(secret), body))})
	}
	{
		secret := "documenso-webhook-secret-5e1a"
		add(recipe{template: "documenso", source: "https://docs.documenso.com/docs/developers/webhooks/verification",
			secret: secret, body: sample(t, "documenso"),
			header: headers("Content-Type", "application/json", "X-Documenso-Secret", secret)})
	}
}
