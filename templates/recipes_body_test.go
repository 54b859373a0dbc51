package templates_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"testing"
)

// bodyMAC is a provider that signs the raw body alone with an HMAC under the
// secret's own bytes and sends the digest, after an optional prefix, in one
// header.
type bodyMAC struct {
	template, source, secret string
	// header carries prefix + digest.
	header, prefix string
	hash           func() hash.Hash
	base64         bool
	// extra are further request headers, name then value.
	extra []string
}

// bodyMACRecipes signs each provider's sample body its documented way.
func bodyMACRecipes(t *testing.T, add func(recipe)) {
	for _, p := range []bodyMAC{
		{template: "aftership", source: "https://www.aftership.com/docs/tracking/webhook/webhook-signature",
			secret: "aftership-webhook-secret-6c7d", header: "aftership-hmac-sha256", hash: sha256.New, base64: true},
		{template: "alchemy", source: "https://github.com/alchemyplatform/webhook-examples/blob/main/node-express/src/webhooksUtil.ts",
			secret: "whsec_alchemy_signing_key_7d1e", header: "X-Alchemy-Signature", hash: sha256.New},
		{template: "bitbucket", source: "https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/",
			secret: "bitbucket-webhook-secret-1b2c", header: "X-Hub-Signature", prefix: "sha256=", hash: sha256.New,
			extra: []string{"X-Event-Key", "repo:push", "X-Request-UUID", "0c4c4f62-4e1a-4ee4-9f0e-bb0f6d4e2a17"}},
		{template: "checkoutcom", source: "https://www.checkout.com/docs/workflows",
			secret: "cko-sig-key-5b1d3e", header: "Cko-Signature", hash: sha256.New},
		{template: "circleci", source: "https://circleci.com/docs/guides/integration/outbound-webhooks/",
			secret: "circleci-secret-token-4a5b", header: "circleci-signature", prefix: "v1=", hash: sha256.New,
			extra: []string{"circleci-event-type", "workflow-completed"}},
		{template: "clickup", source: "https://developer.clickup.com/docs/webhooksignature",
			secret: "clickup-webhook-secret-9f0d", header: "X-Signature", hash: sha256.New},
		{template: "coinbasecommerce", source: "https://docs.cdp.coinbase.com/commerce/api-arcitecture/webhooks-security",
			secret: "cc-shared-secret-0a9e", header: "X-CC-Webhook-Signature", hash: sha256.New},
		{template: "creem", source: "https://docs.creem.io/learn/webhooks/verify-webhook-requests",
			secret: "whsec_creem_3Fq9kLm2", header: "creem-signature", hash: sha256.New},
		{template: "docusign", source: "https://developers.docusign.com/platform/webhooks/connect/validate/",
			secret: "docusign-connect-key-9a8b", header: "X-DocuSign-Signature-1", hash: sha256.New, base64: true},
		{template: "dub", source: "https://dub.co/docs/concepts/webhooks/verify-webhook-requests",
			secret: "whsec_dub_5c2e8f1a9b3d", header: "Dub-Signature", hash: sha256.New},
		{template: "easypost", source: "https://docs.easypost.com/docs/webhooks",
			secret: "easypost-webhook-secret-3c4d", header: "X-Hmac-Signature", prefix: "hmac-sha256-hex=", hash: sha256.New},
		{template: "fastspring", source: "https://developer.fastspring.com/docs/message-security",
			secret: "fs-hmac-secret-4e6f", header: "X-FS-Signature", hash: sha256.New, base64: true},
		{template: "firecrawl", source: "https://docs.firecrawl.dev/webhooks/security",
			secret: "fc-webhook-secret-4c8e1b", header: "X-Firecrawl-Signature", prefix: "sha256=", hash: sha256.New},
		{template: "fourthwall", source: "https://docs.fourthwall.com/webhooks/signature-verification",
			secret: "e3f93c7c-c92b-4b8f-a9b1-5b70e0891abc", header: "X-Fourthwall-Hmac-SHA256", hash: sha256.New, base64: true},
		{template: "front", source: "https://dev.frontapp.com/docs/rule-webhooks",
			secret: "front-api-secret-5e2c", header: "X-Front-Signature", hash: sha1.New, base64: true},
		{template: "gitea", source: "https://docs.gitea.com/features/webhooks",
			secret: "gitea-webhook-secret-8c1d", header: "X-Gitea-Signature", hash: sha256.New,
			extra: []string{"X-Gitea-Event", "push", "X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"}},
		{template: "gocardless", source: "https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/",
			secret: "gc-endpoint-secret-81fd", header: "Webhook-Signature", hash: sha256.New},
		{template: "helpscout", source: "https://developer.helpscout.com/webhooks/",
			secret: "helpscout-secret-key-2f7c", header: "X-HelpScout-Signature", hash: sha1.New, base64: true,
			extra: []string{"X-HelpScout-Event", "convo.created"}},
		{template: "heroku", source: "https://devcenter.heroku.com/articles/app-webhooks",
			secret: "heroku-webhook-secret-5b9e", header: "Heroku-Webhook-Hmac-SHA256", hash: sha256.New, base64: true,
			extra: []string{"Heroku-Webhook-Id", "7846bee9-b017-4492-9bed-34cd8327e71d"}},
		{template: "jira", source: "https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
			secret: "jira-admin-webhook-secret-7e8f", header: "X-Hub-Signature", prefix: "sha256=", hash: sha256.New,
			extra: []string{"X-Atlassian-Webhook-Identifier", "12345-67890"}},
		{template: "line", source: "https://line.github.io/line-bot-sdk-nodejs/apidocs/functions/validateSignature.html",
			secret: "line-channel-secret-5a6b", header: "x-line-signature", hash: sha256.New, base64: true},
		{template: "logto", source: "https://docs.logto.io/developers/webhooks/secure-webhooks",
			secret: "logto-signing-key-3d9a", header: "logto-signature-sha-256", hash: sha256.New},
		{template: "mollie", source: "https://docs.mollie.com/reference/webhooks-best-practices",
			secret: "mollie-signing-secret-7d2a", header: "X-Mollie-Signature", prefix: "sha256=", hash: sha256.New},
		{template: "plain", source: "https://plain.com/docs/request-signing",
			secret: "plain-request-signing-secret-7a8b", header: "Plain-Request-Signature", hash: sha256.New},
		{template: "sentry", source: "https://docs.sentry.io/integrations/integration-platform/webhooks/",
			secret: "sentry-client-secret-0c4e", header: "Sentry-Hook-Signature", hash: sha256.New,
			extra: []string{"Request-ID", "6a7c0f2e-9d1b-4e8f-a3c5-7b2d9e0f1a6c", "Sentry-Hook-Resource", "issue", "Sentry-Hook-Timestamp", unix()}},
		// stream-chat-go Client.VerifyWebhook: hex HMAC-SHA256 of the body
		// under the API secret.
		{template: "streamchat", source: "https://github.com/GetStream/stream-chat-go/blob/master/client.go",
			secret: "stream-api-secret-8fk2m9qz4w", header: "X-Signature", hash: sha256.New,
			extra: []string{"X-Webhook-Id", "123e4567-e89b-12d3-a456-426614174000", "X-Webhook-Attempt", "1", "X-Api-Key", "a1b23cdefgh4"}},
		{template: "tally", source: "https://tally.so/help/webhooks",
			secret: "tally-signing-secret-1e2f", header: "Tally-Signature", hash: sha256.New, base64: true},
		{template: "todoist", source: "https://doist.github.io/todoist-sdk-typescript/api/type-aliases/VerifyWebhookSignatureArgs",
			secret: "todoist-client-secret-4b1e", header: "X-Todoist-Hmac-SHA256", hash: sha256.New, base64: true,
			extra: []string{"X-Todoist-Delivery-ID", "2b5f3c8a-1d4e-4f6a-9b7c-0e1d2c3b4a59"}},
		{template: "vercel", source: "https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks",
			secret: "vercel-webhook-secret-6a1f", header: "x-vercel-signature", hash: sha1.New},
		{template: "webex", source: "https://developer.webex.com/docs/receive-and-verify-webhooks",
			secret: "webex-webhook-secret-6d3e", header: "X-Spark-Signature", hash: sha1.New},
	} {
		body := sample(t, p.template)
		sig := hexMAC(p.hash, []byte(p.secret), body)
		if p.base64 {
			sig = b64MAC(p.hash, []byte(p.secret), body)
		}
		kv := append([]string{"Content-Type", "application/json"}, p.extra...)
		add(recipe{template: p.template, source: p.source, secret: p.secret, body: body,
			header: headers(append(kv, p.header, p.prefix+sig)...)})
	}
}
