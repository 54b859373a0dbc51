package forward

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// sign puts the signature headers of a delivery on h, as an attempt does.
func (d *destination) sign(h http.Header, id string, now time.Time, body []byte) {
	sig, err := d.signer.Sign(id, now, body)
	if err != nil {
		panic(err)
	}
	for k, v := range sig {
		h[k] = v
	}
}

func mustCompile(t *testing.T, d *plugsv1.DestinationConfig) *destination {
	t.Helper()
	d.Id, d.TenantId, d.Url = "d1", "t1", "https://example.com/hook"
	c, err := compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A "whsec_" key is base64 after the prefix; the signature is what the
// Standard Webhooks reference library accepts and what HMAC-SHA256 of
// id.timestamp.body gives.
func TestSignStandardWebhooks(t *testing.T) {
	raw := []byte("a 24-byte secret for hmac")
	key := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	d := mustCompile(t, &plugsv1.DestinationConfig{SharedKey: []byte(key)})
	body := []byte(`{"specversion":"1.0"}`)
	now := time.Now()
	h := http.Header{}
	d.sign(h, "evt-1", now, body)

	ts := strconv.FormatInt(now.Unix(), 10)
	if h.Get("webhook-id") != "evt-1" || h.Get("webhook-timestamp") != ts {
		t.Fatalf("headers %v", h)
	}
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("evt-1." + ts + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); h.Get("webhook-signature") != want {
		t.Fatalf("signature %q, want %q", h.Get("webhook-signature"), want)
	}
	wh, err := standardwebhooks.NewWebhook(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("reference library: %v", err)
	}

	// Any other key is its bytes.
	d = mustCompile(t, &plugsv1.DestinationConfig{SharedKey: []byte("plain-key")})
	h = http.Header{}
	d.sign(h, "evt-1", now, body)
	wh, _ = standardwebhooks.NewWebhookRaw([]byte("plain-key"))
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("raw key: %v", err)
	}
}

func TestSignHub(t *testing.T) {
	body := []byte(`{"a":1}`)
	m := hmac.New(sha256.New, []byte("k"))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	for header, cfgHeader := range map[string]string{DefaultHubHeader: "", "X-Signature": "X-Signature"} {
		d := mustCompile(t, &plugsv1.DestinationConfig{
			SharedKey:       []byte("k"),
			SignatureStyle:  plugsv1.Destination_SIGNATURE_STYLE_HUB,
			SignatureHeader: cfgHeader,
		})
		h := http.Header{}
		d.sign(h, "evt-1", time.Now(), body)
		if h.Get(header) != want || h.Get("webhook-signature") != "" {
			t.Fatalf("%s: %v", header, h)
		}
	}
}

func TestBadDestinationsRefused(t *testing.T) {
	for name, d := range map[string]*plugsv1.DestinationConfig{
		"no key":       {Id: "d", Url: "https://x", SharedKey: nil},
		"empty whsec":  {Id: "d", Url: "https://x", SharedKey: []byte("whsec_")},
		"bad base64":   {Id: "d", Url: "https://x", SharedKey: []byte("whsec_!!!")},
		"bad url":      {Id: "d", Url: "ftp://x", SharedKey: []byte("k")},
		"relative url": {Id: "d", Url: "/hook", SharedKey: []byte("k")},
		"dotted id":    {Id: "a.b", Url: "https://x", SharedKey: []byte("k")},
		"wildcard id":  {Id: ">", Url: "https://x", SharedKey: []byte("k")},
		"empty id":     {Id: "", Url: "https://x", SharedKey: []byte("k")},
	} {
		if _, err := compile(d); !errors.Is(err, ErrInvalidDestination) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
