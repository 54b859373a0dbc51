package templates_test

// Recipe vectors: requests signed here exactly as each provider's own
// documentation (or official SDK source) describes, with Go's crypto and
// nothing of Plugs' signer, so a template that misreads the documentation
// fails. Where a provider publishes a byte-exact example it is in
// testdata/vectors.yaml instead; where an official Go SDK can sign, the
// check is in dataplane/verify/sdk_test.go.

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"sigs.k8s.io/yaml"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// recipe is one request signed the provider's way.
type recipe struct {
	template string
	// source is where the recipe is documented.
	source string
	// secret is the credential as a source is configured with it.
	secret string
	// url is the URL the provider called; a default is used when empty.
	url    string
	header http.Header
	body   string
	now    time.Time
	// tamper, when set, replaces the default edit of the body (the first
	// key renamed) for schemes that sign only some body fields.
	tamper func(body string) string
	// tamperURL, when set, is the edit for a scheme that signs the URL's
	// query and not the body (Mercado Pago): the URL is changed instead.
	tamperURL func(url string) string
}

// recipeNow is the receiver's clock of every recipe.
var recipeNow = time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)

func mac(h func() hash.Hash, key []byte, parts ...string) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key []byte, parts ...string) string {
	return hex.EncodeToString(mac(h, key, parts...))
}

func b64MAC(h func() hash.Hash, key []byte, parts ...string) string {
	return base64.StdEncoding.EncodeToString(mac(h, key, parts...))
}

// headers builds a header from name, value pairs.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// sample is the sample payload of a template: the body a provider sends.
func sample(t *testing.T, id string) string {
	t.Helper()
	tpl, err := templates.MustBuiltin().Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(tpl.GetSamplePayload())
}

// unix is recipeNow in Unix seconds as text.
func unix() string { return strconv.FormatInt(recipeNow.Unix(), 10) }

// unixMilli is recipeNow in Unix milliseconds as text.
func unixMilli() string { return strconv.FormatInt(recipeNow.UnixMilli(), 10) }

// standardSigned returns the Standard Webhooks headers (webhook-* or the
// given names) for body, signed with the specification's reference Go
// library under key (the raw HMAC key).
func standardSigned(t *testing.T, key []byte, idHeader, tsHeader, sigHeader, msgID, body string) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhookRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(msgID, recipeNow, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return headers("Content-Type", "application/json", idHeader, msgID, tsHeader, unix(), sigHeader, sig)
}

// whsecKey decodes a whsec_ secret as Standard Webhooks senders issue it.
func whsecKey(t *testing.T, secret string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func recipes(t *testing.T) []recipe {
	var rs []recipe
	add := func(r recipe) {
		if r.now.IsZero() {
			r.now = recipeNow
		}
		rs = append(rs, r)
	}
	paymentRecipes(t, add)
	standardRecipes(t, add)
	commsRecipes(t, add)
	devtoolsRecipes(t, add)
	bodyMACRecipes(t, add)
	handshakeRecipes(t, add)
	return rs
}

// TestRecipeVectors checks that every recipe verifies under its template,
// that a changed body then fails, and that the body maps to an event id
// and type.
func TestRecipeVectors(t *testing.T) {
	catalog := templates.MustBuiltin()
	for _, r := range recipes(t) {
		t.Run(r.template, func(t *testing.T) {
			tpl, err := catalog.Get(r.template)
			if err != nil {
				t.Fatal(err)
			}
			scheme := tpl.GetSignatureScheme()
			v, err := verify.Compile(scheme, []*plugsv1.SigningSecret{{Id: "s", Value: []byte(r.secret)}})
			if err != nil {
				t.Fatal(err)
			}
			if p := v.Problems(); len(p) > 0 {
				t.Fatalf("secret left out: %v", p)
			}
			url := r.url
			if url == "" {
				url = "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001"
			}
			req := func(body string) *verify.Request {
				return &verify.Request{Method: http.MethodPost, URL: url, Header: r.header,
					Body: payload.New([]byte(body), r.header.Get("Content-Type"))}
			}
			verified := req(r.body)
			if err := v.Verify(verified, verify.Options{Now: r.now}); err != nil {
				t.Fatalf("recipe of %s: %v", r.source, err)
			}
			switch scheme.GetAlgorithm() {
			case plugsv1.SignatureScheme_ALGORITHM_TOKEN, plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
				// The credential covers no content; a wrong one fails.
				bad, _ := verify.Compile(scheme, []*plugsv1.SigningSecret{{Id: "s", Value: []byte(r.secret + "x")}})
				if err := bad.Verify(req(r.body), verify.Options{Now: r.now}); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Errorf("another credential: got %v, want %v", err, verify.ErrSignatureInvalid)
				}
			default:
				if r.tamperURL != nil {
					bad := req(r.body)
					bad.URL = r.tamperURL(url)
					if err := v.Verify(bad, verify.Options{Now: r.now}); !errors.Is(err, verify.ErrSignatureInvalid) {
						t.Errorf("tampered URL: got %v, want %v", err, verify.ErrSignatureInvalid)
					}
					break
				}
				tampered := strings.Replace(r.body, `"`, `"x`, 1)
				if r.tamper != nil {
					tampered = r.tamper(r.body)
				}
				if err := v.Verify(req(tampered), verify.Options{Now: r.now}); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Errorf("tampered body: got %v, want %v", err, verify.ErrSignatureInvalid)
				}
			}
			mp, err := mapping.Compile(tpl.GetFieldMappings(), nil)
			if err != nil {
				t.Fatal(err)
			}
			in := mapping.Input{Body: verified.Body, Header: r.header, ReceiveTime: r.now}
			if verified.Document != nil {
				// What the data plane maps: the body with encoded fields
				// decoded.
				in.Body = verified.Document
			}
			ev, err := mapBody(t, mp, in)
			if err != nil {
				t.Fatalf("mapping: %v", err)
			}
			if ev.GetEventType() == "" {
				t.Error("no event type")
			}
			if tpl.GetFieldMappings().GetEventId() != nil && ev.GetEventId() == "" {
				t.Error("no event id")
			}
		})
	}
}

// sdkChecked are the templates dataplane/verify/sdk_test.go cross-checks
// against an official Go SDK.
var sdkChecked = []string{"stripe", "standardwebhooks", "svix", "paddle", "twilio", "openai"}

// withoutVector are templates that predate the rule that every template
// has a published, SDK or recipe vector. The list may only shrink.
var withoutVector = []string{
	"affonso", "aghanim", "calendly", "clerk", "custom", "discord", "githubsha1", "gitlab",
	"hubsignature", "hubspot", "intercom", "lemonsqueezy", "linear", "mailgun", "meta", "okta",
	"paystack", "plugipay", "postmark", "razorpay", "resend", "shopify", "signature256",
	"twitter", "typeform", "woocommerce", "xero", "zendesk", "zoom",
}

// Every template has a vector: published (testdata/vectors.yaml), from an
// official SDK, or computed here from the provider's documented recipe.
func TestEveryTemplateHasAVector(t *testing.T) {
	have := map[string]bool{}
	data, err := os.ReadFile("testdata/vectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var published []struct {
		Template string `json:"template"`
	}
	if err := yaml.Unmarshal(data, &published); err != nil {
		t.Fatal(err)
	}
	for _, p := range published {
		have[p.Template] = true
	}
	for _, r := range recipes(t) {
		have[r.template] = true
	}
	for _, id := range sdkChecked {
		have[id] = true
	}
	for _, id := range keyTemplates {
		have[id] = true
	}
	exempt := map[string]bool{}
	for _, id := range withoutVector {
		if have[id] {
			t.Errorf("%s has a vector now: drop it from withoutVector", id)
		}
		exempt[id] = true
	}
	for _, id := range templates.MustBuiltin().IDs() {
		if !have[id] && !exempt[id] {
			t.Errorf("%s: no published, SDK or recipe vector", id)
		}
	}
}
