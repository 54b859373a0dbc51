package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func inQuery(name string) *plugsv1.HandshakeInput {
	return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_QueryParam{QueryParam: name}}
}

func inHeader(name string) *plugsv1.HandshakeInput {
	return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_Header{Header: name}}
}

func inBody(path string) *plugsv1.HandshakeInput {
	return &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_JsonPath{JsonPath: path}}
}

func textAnswer(ct string, headers ...*plugsv1.HandshakeField) *plugsv1.HandshakeAnswer {
	return &plugsv1.HandshakeAnswer{ContentType: ct, Body: &plugsv1.HandshakeAnswer_Text{Text: &plugsv1.HandshakeValue{}}, Headers: headers}
}

func withRules(rules ...*plugsv1.HandshakeRule) *plugsv1.SignatureScheme {
	s := bodyOnly(sha256Alg, hexEnc)
	s.Handshakes = rules
	return s
}

// The rules of the providers the engine was built for, each answered as
// the provider's documentation asks.
func TestHandshakeRules(t *testing.T) {
	dropbox := withRules(&plugsv1.HandshakeRule{Method: "GET", Challenge: inQuery("challenge"),
		Answer: textAnswer("text/plain", &plugsv1.HandshakeField{Name: "X-Content-Type-Options", Value: &plugsv1.HandshakeValue{Literal: "nosniff"}})})
	graph := withRules(&plugsv1.HandshakeRule{Method: "POST", Challenge: inQuery("validationToken"), Answer: textAnswer("text/plain")})
	twitch := withRules(&plugsv1.HandshakeRule{Method: "POST", Signed: true,
		Conditions: []*plugsv1.HandshakeCondition{{Input: inHeader("Twitch-Eventsub-Message-Type"), Equals: "webhook_callback_verification"}},
		Challenge:  inBody("$.challenge"), Answer: textAnswer("text/plain")})
	trello := withRules(&plugsv1.HandshakeRule{Method: "HEAD"})
	linkedin := withRules(&plugsv1.HandshakeRule{Method: "GET", Challenge: inQuery("challengeCode"),
		Answer: &plugsv1.HandshakeAnswer{ContentType: "application/json", Body: &plugsv1.HandshakeAnswer_Json{Json: &plugsv1.HandshakeFields{Fields: []*plugsv1.HandshakeField{
			{Name: "challengeCode", Value: &plugsv1.HandshakeValue{}},
			{Name: "challengeResponse", Value: &plugsv1.HandshakeValue{Mac: sha256Alg, Encoding: hexEnc}},
		}}}}})
	ringcentral := withRules(&plugsv1.HandshakeRule{Challenge: inHeader("Validation-Token"),
		Answer: &plugsv1.HandshakeAnswer{Headers: []*plugsv1.HandshakeField{{Name: "Validation-Token", Value: &plugsv1.HandshakeValue{}}}}})

	cases := []struct {
		name     string
		scheme   *plugsv1.SignatureScheme
		method   string
		query    string
		header   map[string]string
		body     string
		verified bool
		want     error
		wantBody string
		wantCT   string
		wantHdr  map[string]string
		none     bool
	}{
		{name: "dropbox/echo", scheme: dropbox, method: "GET", query: "challenge=abc%20def", wantBody: "abc def", wantCT: "text/plain",
			wantHdr: map[string]string{"X-Content-Type-Options": "nosniff"}},
		{name: "dropbox/no challenge", scheme: dropbox, method: "GET", query: "x=1", none: true},
		{name: "dropbox/POST is an event", scheme: dropbox, query: "challenge=abc", none: true},
		{name: "graph/echo before verification", scheme: graph, query: "validationToken=Validation%3A%20Testing%20client%20application", wantBody: "Validation: Testing client application", wantCT: "text/plain"},
		{name: "graph/notification", scheme: graph, query: "", none: true},
		{name: "graph/query does not parse", scheme: graph, query: "validationToken=%zz", want: verify.ErrSignatureMalformed},
		{name: "twitch/verified challenge", scheme: twitch, verified: true, header: headers("Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
			body: `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}`, wantBody: "pogchamp-kappa-360noscope-vohiyo", wantCT: "text/plain"},
		{name: "twitch/unverified challenge", scheme: twitch, header: headers("Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
			body: `{"challenge":"c"}`, none: true},
		{name: "twitch/notification", scheme: twitch, verified: true, header: headers("Twitch-Eventsub-Message-Type", "notification"), body: `{"challenge":"c"}`, none: true},
		{name: "twitch/challenge not a string", scheme: twitch, verified: true, header: headers("Twitch-Eventsub-Message-Type", "webhook_callback_verification"),
			body: `{"challenge":{"x":1}}`, wantBody: "", wantCT: "text/plain"},
		{name: "trello/HEAD", scheme: trello, method: "HEAD", wantBody: ""},
		{name: "trello/GET", scheme: trello, method: "GET", none: true},
		{name: "linkedin/hex HMAC", scheme: linkedin, method: "GET", query: "challengeCode=890e4665-4dfe-4ab1-b689-ed553bceeed1", wantCT: "application/json",
			wantBody: `{"challengeCode":"890e4665-4dfe-4ab1-b689-ed553bceeed1","challengeResponse":"` + hexSig(testSecret, "890e4665-4dfe-4ab1-b689-ed553bceeed1") + `"}`},
		{name: "ringcentral/header echo, any method", scheme: ringcentral, header: headers("Validation-Token", "tok-1"), wantBody: "", wantHdr: map[string]string{"Validation-Token": "tok-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method, body := c.method, c.body
			if method == "" {
				method = http.MethodPost
			}
			if body == "" {
				body = testBody
			}
			v := mustCompile(t, c.scheme, secretsOf(testSecret))
			ans, err := v.Handshake(newRequest(method, testURL, jsonCT, c.header, body), c.query, c.verified, verify.Options{Now: testNow})
			wantErr(t, "Handshake", err, c.want)
			switch {
			case c.want != nil:
				return
			case c.none:
				if ans != nil {
					t.Fatalf("answered %q, want no answer", ans.Body)
				}
				return
			case ans == nil:
				t.Fatal("no answer")
			}
			if string(ans.Body) != c.wantBody || ans.ContentType != c.wantCT {
				t.Errorf("answer %q (%q), want %q (%q)", ans.Body, ans.ContentType, c.wantBody, c.wantCT)
			}
			for k, want := range c.wantHdr {
				if got := ans.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if ans.CapturedSecret != "" {
				t.Errorf("captured %q", ans.CapturedSecret)
			}
		})
	}
	if !mustCompile(t, trello, nil).AnswersMethod("HEAD") || mustCompile(t, twitch, nil).AnswersMethod("POST") {
		t.Error("AnswersMethod: HEAD of trello must be answered before verification, twitch's POST must not")
	}
}

// Asana's handshake hands over the secret: a source without one captures
// it, a source holding it answers again, and one holding another refuses,
// so a forged handshake cannot replace the secret.
func TestHandshakeCapturesSecret(t *testing.T) {
	asana := withRules(&plugsv1.HandshakeRule{Method: "POST", Challenge: inHeader("X-Hook-Secret"), CaptureSecret: true,
		Answer: &plugsv1.HandshakeAnswer{Headers: []*plugsv1.HandshakeField{{Name: "X-Hook-Secret", Value: &plugsv1.HandshakeValue{}}}}})
	const hookSecret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
	handshake := func(v *verify.Verifier, value string) (*verify.Answer, error) {
		return v.Handshake(newRequest(http.MethodPost, testURL, jsonCT, headers("X-Hook-Secret", value), ""), "", false, verify.Options{Now: testNow})
	}

	fresh := mustCompile(t, asana, nil)
	if !fresh.CapturesSecret() || !verify.CapturesSecret(asana) || verify.CapturesSecret(stripeLike()) {
		t.Fatal("CapturesSecret")
	}
	ans, err := handshake(fresh, hookSecret)
	if err != nil || ans == nil || ans.CapturedSecret != hookSecret || ans.Header.Get("X-Hook-Secret") != hookSecret || len(ans.Body) != 0 {
		t.Fatalf("fresh source: %+v, %v", ans, err)
	}

	held := mustCompile(t, asana, secretsOf(hookSecret))
	ans, err = handshake(held, hookSecret)
	if err != nil || ans == nil || ans.CapturedSecret != "" || ans.Header.Get("X-Hook-Secret") != hookSecret {
		t.Fatalf("repeated handshake: %+v, %v", ans, err)
	}
	if ans, err := handshake(held, "forged-secret-of-an-attacker-0123"); !errors.Is(err, verify.ErrSignatureInvalid) || ans != nil {
		t.Fatalf("forged handshake: %+v, %v", ans, err)
	}
	// An expired secret is no longer held: the source takes a new one.
	expired := mustCompile(t, asana, []*plugsv1.SigningSecret{expiring(hookSecret, testNow.Add(-1))})
	if ans, err := handshake(expired, "new-secret-0123456789abcdef"); err != nil || ans.CapturedSecret != "new-secret-0123456789abcdef" {
		t.Fatalf("after expiry: %+v, %v", ans, err)
	}
	// A request without the header is an event, verified as usual.
	if ans, err := fresh.Handshake(newRequest(http.MethodPost, testURL, jsonCT, nil, testBody), "", false, verify.Options{Now: testNow}); ans != nil || err != nil {
		t.Fatalf("event: %+v, %v", ans, err)
	}
	// Events verify under the captured secret.
	sig := hex.EncodeToString(macOf(sha256.New, []byte(hookSecret), testBody))
	if err := held.Verify(newRequest(http.MethodPost, testURL, jsonCT, headers("X-Sig", sig), testBody), verify.Options{Now: testNow}); err != nil {
		t.Fatalf("event under the captured secret: %v", err)
	}
}

func TestHandshakeCompileErrors(t *testing.T) {
	for name, r := range map[string]*plugsv1.HandshakeRule{
		"capture without challenge": {CaptureSecret: true},
		"capture signed":            {CaptureSecret: true, Signed: true, Challenge: inHeader("X-Hook-Secret")},
		"echo without challenge":    {Answer: textAnswer("text/plain")},
		"input without source":      {Challenge: &plugsv1.HandshakeInput{}},
		"bad JSONPath":              {Challenge: inBody("$[")},
		"bad header name":           {Challenge: inQuery("c"), Answer: &plugsv1.HandshakeAnswer{Headers: []*plugsv1.HandshakeField{{Name: "X Bad:", Value: &plugsv1.HandshakeValue{}}}}},
		"MAC not an HMAC":           {Challenge: inQuery("c"), Answer: &plugsv1.HandshakeAnswer{Body: &plugsv1.HandshakeAnswer_Text{Text: &plugsv1.HandshakeValue{Mac: edAlg, Encoding: hexEnc}}}},
		"MAC without encoding":      {Challenge: inQuery("c"), Answer: &plugsv1.HandshakeAnswer{Body: &plugsv1.HandshakeAnswer_Text{Text: &plugsv1.HandshakeValue{Mac: sha256Alg}}}},
		"equals_json on a header":   {Conditions: []*plugsv1.HandshakeCondition{{Input: inHeader("X"), EqualsJson: "1"}}},
		"unnamed JSON field": {Challenge: inQuery("c"), Answer: &plugsv1.HandshakeAnswer{Body: &plugsv1.HandshakeAnswer_Json{Json: &plugsv1.HandshakeFields{
			Fields: []*plugsv1.HandshakeField{{Value: &plugsv1.HandshakeValue{}}}}}}},
	} {
		if _, err := verify.Compile(withRules(r), nil); !errors.Is(err, verify.ErrInvalidScheme) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
