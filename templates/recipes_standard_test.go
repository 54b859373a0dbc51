package templates_test

import "testing"

// Recipes of senders that sign the Standard Webhooks way, signed with the
// specification's reference Go library under each sender's key.
func standardRecipes(t *testing.T, add func(recipe)) {
	for _, s := range []struct {
		template, source, secret, prefix string
	}{
		{"incidentio", "https://docs.incident.io/api-reference/webhooks", "whsec_aW5jaWRlbnQtaW8tc2lnbmluZy1rZXktMTIzNA==", "webhook"},
		{"render", "https://github.com/render-examples/webhook-receiver/blob/main/app.ts", "whsec_cmVuZGVyLXdvcmtzcGFjZS13ZWJob29rLWtleQ==", "webhook"},
		// Brex hands out the base64 key without a whsec_ prefix.
		{"brex", "https://developer.brex.com/docs/webhooks", "YnJleC13ZWJob29rLXNlY3JldC1rZXktMDAx", "Webhook"},
		{"lithic", "https://github.com/lithic-com/lithic-go/blob/main/webhook.go", "whsec_bGl0aGljLWV2ZW50LXN1YnNjcmlwdGlvbi1rZXk=", "webhook"},
		// dodopayments-go verifies with this same library (webhook.go).
		{"dodopayments", "https://github.com/dodopayments/dodopayments-go/blob/main/webhook.go", "whsec_ZG9kby1wYXltZW50cy13ZWJob29rLWtleS0yMDI1", "webhook"},
	} {
		body := sample(t, s.template)
		add(recipe{template: s.template, source: s.source, secret: s.secret, body: body,
			header: standardSigned(t, whsecKey(t, s.secret), s.prefix+"-id", s.prefix+"-timestamp", s.prefix+"-signature", "msg_2dQ8rZkY1pW0vX7uN4mB6cE3aTg", body)})
	}
}
