package verify_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// vector is one published example from templates/testdata/vectors.yaml.
type vector struct {
	Template string            `json:"template"`
	Source   string            `json:"source"`
	Secret   string            `json:"secret"`
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	Now      int64             `json:"now"`
	Valid    bool              `json:"valid"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	data, err := os.ReadFile("../../templates/testdata/vectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := yaml.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestPublishedVectors(t *testing.T) {
	catalog := templates.MustBuiltin()
	vs := loadVectors(t)
	seen := map[string]bool{}
	for i, vec := range vs {
		seen[vec.Template] = true
		tpl, err := catalog.Get(vec.Template)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		v, err := verify.Compile(tpl.GetSignatureScheme(), []*plugsv1.SigningSecret{{Id: "s1", Value: []byte(vec.Secret)}})
		if err != nil {
			t.Fatalf("vector %d (%s): %v", i, vec.Template, err)
		}
		h := http.Header{}
		for k, val := range vec.Headers {
			h.Set(k, val)
		}
		req := &verify.Request{Method: vec.Method, URL: vec.URL, Header: h, Body: payload.New([]byte(vec.Body), h.Get("Content-Type"))}
		err = v.Verify(req, verify.Options{Now: time.Unix(vec.Now, 0)})
		if vec.Valid && err != nil {
			t.Errorf("vector %d (%s, %s): %v", i, vec.Template, vec.Source, err)
		}
		if !vec.Valid && err == nil {
			t.Errorf("vector %d (%s, %s): verified, want a failure", i, vec.Template, vec.Source)
		}
	}
	for _, want := range []string{"github", "slack", "twilio"} {
		if !seen[want] {
			t.Errorf("no published vector for %s", want)
		}
	}
}

// The three vectors the receiver must pass, spelled out here as well so a
// change to the data file cannot quietly drop them.
func TestRequiredVectors(t *testing.T) {
	catalog := templates.MustBuiltin()
	cases := []struct {
		template, secret, url, body string
		headers                     map[string]string
		now                         int64
	}{
		{"github", "It's a Secret to Everybody", "https://example.com/hook", "Hello, World!",
			map[string]string{"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, 1700000000},
		{"slack", "8f742231b10e8888abcd99yyyzzz85a5", "https://example.com/slack",
			"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}, 1531420618},
		{"twilio", "12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
			"CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}, 1700000000},
	}
	for _, c := range cases {
		tpl, err := catalog.Get(c.template)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.Compile(tpl.GetSignatureScheme(), []*plugsv1.SigningSecret{{Id: "s", Value: []byte(c.secret)}})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		for k, val := range c.headers {
			h.Set(k, val)
		}
		req := &verify.Request{Method: "POST", URL: c.url, Header: h, Body: payload.New([]byte(c.body), h.Get("Content-Type"))}
		if err := v.Verify(req, verify.Options{Now: time.Unix(c.now, 0)}); err != nil {
			t.Errorf("%s: %v", c.template, err)
		}
		// One changed byte of the body fails.
		req.Body = payload.New([]byte(c.body+"x"), h.Get("Content-Type"))
		if err := v.Verify(req, verify.Options{Now: time.Unix(c.now, 0)}); err == nil {
			t.Errorf("%s: a tampered body verified", c.template)
		}
	}
}
