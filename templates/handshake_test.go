package templates_test

import (
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Each template's handshake, answered as the provider's documentation asks
// (the examples are the documentation's where it gives one).
func TestTemplateHandshakes(t *testing.T) {
	const secret = "template-handshake-secret-0123"
	twitchBody := `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2"}}`
	twitchID, twitchTS := "e76c6bd4-55c9-4987-8304-da1588d8988b", recipeNow.Format(time.RFC3339Nano)
	for _, c := range []struct {
		template, method, query, body string
		header                        http.Header
		secrets                       []string
		signed                        bool
		wantBody, wantCT              string
		wantHeader                    http.Header
		wantCapture                   string
	}{
		{template: "asana", method: "POST", header: headers("X-Hook-Secret", "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"),
			wantHeader:  headers("X-Hook-Secret", "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"),
			wantCapture: "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"},
		{template: "notion", method: "POST", body: `{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}`,
			header: headers("Content-Type", "application/json"), wantCapture: "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"},
		{template: "dropbox", method: "GET", query: "challenge=Ab3CdEf", secrets: []string{secret},
			wantBody: "Ab3CdEf", wantCT: "text/plain", wantHeader: headers("X-Content-Type-Options", "nosniff")},
		{template: "microsoftgraph", method: "POST", query: "validationToken=Validation%3A+Testing+client+application", secrets: []string{secret},
			wantBody: "Validation: Testing client application", wantCT: "text/plain; charset=utf-8"},
		{template: "nylas", method: "GET", query: "challenge=bc609b38-c81f-47fb-a275-1d9bd61a968b", secrets: []string{secret},
			wantBody: "bc609b38-c81f-47fb-a275-1d9bd61a968b", wantCT: "text/plain; charset=utf-8"},
		{template: "trello", method: "HEAD", secrets: []string{secret}},
		{template: "mandrill", method: "HEAD", secrets: []string{secret}},
		{template: "mailchimp", method: "GET", secrets: []string{secret}},
		{template: "twitch", method: "POST", signed: true, secrets: []string{secret}, body: twitchBody,
			header: headers("Content-Type", "application/json", "Twitch-Eventsub-Message-Type", "webhook_callback_verification",
				"Twitch-Eventsub-Message-Id", twitchID, "Twitch-Eventsub-Message-Timestamp", twitchTS,
				"Twitch-Eventsub-Message-Signature", "sha256="+hexMAC(sha256.New, []byte(secret), twitchID, twitchTS, twitchBody)),
			wantBody: "pogchamp-kappa-360noscope-vohiyo", wantCT: "text/plain; charset=utf-8"},
	} {
		t.Run(c.template, func(t *testing.T) {
			tpl, err := templates.MustBuiltin().Get(c.template)
			if err != nil {
				t.Fatal(err)
			}
			var secrets []*plugsv1.SigningSecret
			for _, s := range c.secrets {
				secrets = append(secrets, &plugsv1.SigningSecret{Id: "s", Value: []byte(s)})
			}
			v, err := verify.Compile(tpl.GetSignatureScheme(), secrets)
			if err != nil {
				t.Fatal(err)
			}
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			req := &verify.Request{Method: c.method, URL: "https://hooks.example.com/in?" + c.query, Header: h,
				Body: payload.New([]byte(c.body), h.Get("Content-Type"))}
			if c.signed {
				if ans, _ := v.Handshake(req, c.query, false, verify.Options{Now: recipeNow}); ans != nil {
					t.Fatal("a signed handshake was answered before verification")
				}
				if err := v.Verify(req, verify.Options{Now: recipeNow}); err != nil {
					t.Fatalf("the handshake does not verify: %v", err)
				}
			}
			ans, err := v.Handshake(req, c.query, c.signed, verify.Options{Now: recipeNow})
			if err != nil || ans == nil {
				t.Fatalf("no answer: %v", err)
			}
			if string(ans.Body) != c.wantBody || ans.ContentType != c.wantCT || ans.CapturedSecret != c.wantCapture {
				t.Errorf("answer %q (%q), captured %q; want %q (%q), %q", ans.Body, ans.ContentType, ans.CapturedSecret, c.wantBody, c.wantCT, c.wantCapture)
			}
			for k := range c.wantHeader {
				if ans.Header.Get(k) != c.wantHeader.Get(k) {
					t.Errorf("header %s = %q, want %q", k, ans.Header.Get(k), c.wantHeader.Get(k))
				}
			}
		})
	}
}
