package templates_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// commsRecipes adds the recipes of communications, work-management and messaging providers.
func commsRecipes(t *testing.T, add func(recipe)) {
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
	{
		secret := "documenso-webhook-secret-5e1a"
		add(recipe{template: "documenso", source: "https://docs.documenso.com/docs/developers/webhooks/verification",
			secret: secret, body: sample(t, "documenso"),
			header: headers("Content-Type", "application/json", "X-Documenso-Secret", secret)})
	}
}
