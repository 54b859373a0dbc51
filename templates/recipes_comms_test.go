package templates_test

import (
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
