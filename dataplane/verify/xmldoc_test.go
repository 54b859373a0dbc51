package verify_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// braintreeLike signs a base64 XML form field with HMAC-SHA1 keyed by the
// SHA-1 of the secret, the signature labelled and in another form field.
func braintreeLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha1Alg, Encoding: hexEnc, SignatureJsonPath: "$.sig", SignatureSeparator: "&", SignatureLabelSeparator: "|",
		SignedParts:          signedParts(signedPart(plugsv1.SignedPart_KIND_BODY_FIELD, "$.payload")),
		SecretEncoding:       plugsv1.SignatureScheme_SECRET_ENCODING_SHA1_DIGEST,
		DecodeBase64XmlPaths: []string{"$.payload"},
	}
}

// sha1KeyedHex is the signature Braintree's Digest.hexdigest computes.
func sha1KeyedHex(secret, msg string) string {
	k := sha1.Sum([]byte(secret))
	return hex.EncodeToString(macOf(sha1.New, k[:], msg))
}

func braintreeBody(sig, xmlDoc string) string {
	return url.Values{"sig": {sig}, "payload": {base64.StdEncoding.EncodeToString([]byte(xmlDoc))}}.Encode()
}

func TestLabelledSignaturesAndSHA1Key(t *testing.T) {
	const doc = `<notification><kind>check</kind></notification>`
	p := base64.StdEncoding.EncodeToString([]byte(doc))
	good, other := sha1KeyedHex(testSecret, p), sha1KeyedHex(otherSecret, p)
	plainKey := hex.EncodeToString(macOf(sha1.New, []byte(testSecret), p))
	runCases(t, []vcase{
		{name: "one pair", scheme: braintreeLike(), ct: formCT, body: braintreeBody("pk|"+good, doc)},
		{name: "ours second", scheme: braintreeLike(), ct: formCT, body: braintreeBody("other|"+other+"&pk|"+good, doc)},
		{name: "another key's pair only", scheme: braintreeLike(), ct: formCT, body: braintreeBody("other|"+other, doc), want: verify.ErrSignatureInvalid},
		{name: "keyed with the secret itself", scheme: braintreeLike(), ct: formCT, body: braintreeBody("pk|"+plainKey, doc), want: verify.ErrSignatureInvalid},
		{name: "unlabelled", scheme: braintreeLike(), ct: formCT, body: braintreeBody(good, doc), want: verify.ErrSignatureMalformed},
		{name: "no signature", scheme: braintreeLike(), ct: formCT, body: url.Values{"payload": {p}}.Encode(), want: verify.ErrSignatureMissing},
	})
	header := &plugsv1.SignatureScheme{Algorithm: sha256Alg, Encoding: hexEnc, Header: "X-Sig", SignatureLabelSeparator: "|",
		SignedParts: signedParts(signedPart(kBody)), SecretEncoding: rawSecret}
	runCases(t, []vcase{
		{name: "labelled header", scheme: header, header: headers("X-Sig", "key-1|"+hexSig(testSecret, testBody))},
		{name: "label missing", scheme: header, header: headers("X-Sig", hexSig(testSecret, testBody)), want: verify.ErrSignatureMalformed},
	})
}

func TestBase64XMLDocument(t *testing.T) {
	const doc = `<notification><timestamp type="datetime">2026-03-02T10:29:58Z</timestamp><kind>subscription_charged_successfully</kind>` +
		`<subject><subscription><id>sub_1</id></subscription></subject></notification>`
	p := base64.StdEncoding.EncodeToString([]byte(doc))
	v := mustCompile(t, braintreeLike(), secretsOf(testSecret))
	req := newRequest("POST", testURL, formCT, nil, braintreeBody("pk|"+sha1KeyedHex(testSecret, p), doc))
	if err := v.Verify(req, verify.Options{Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if req.Document == nil {
		t.Fatal("no document")
	}
	var paths payload.Paths
	kind, id, sig := paths.MustAdd("$.payload.notification.kind"), paths.MustAdd("$.payload.notification.subject.subscription.id"), paths.MustAdd("$.sig")
	for slot, want := range map[int]string{kind: "subscription_charged_successfully", id: "sub_1", sig: "pk|" + sha1KeyedHex(testSecret, p)} {
		val, err := paths.Get(req.Document, slot)
		if err != nil || val.Text() != want {
			t.Errorf("%s = %q (%v), want %q", paths.Text(slot), val.Text(), err, want)
		}
	}
	if val, _ := paths.Get(req.Body, kind); val.Present() {
		t.Error("the request's own body was changed")
	}

	// A signed field that is not base64 XML verifies but cannot be mapped.
	for name, field := range map[string]string{"not base64": "%%%", "not XML": base64.StdEncoding.EncodeToString([]byte("<a><b></a>"))} {
		body := url.Values{"sig": {"pk|" + sha1KeyedHex(testSecret, field)}, "payload": {field}}.Encode()
		err := v.Verify(newRequest("POST", testURL, formCT, nil, body), verify.Options{Now: testNow})
		if !errors.Is(err, payload.ErrUnparsable) {
			t.Errorf("%s: got %v, want ErrUnparsable", name, err)
		}
	}
	for name, s := range map[string]*plugsv1.SignatureScheme{
		"bad path": func() *plugsv1.SignatureScheme {
			s := braintreeLike()
			s.DecodeBase64XmlPaths = []string{"$.["}
			return s
		}(),
		"with a token scheme": {Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, DecodeBase64XmlPaths: []string{"$.payload"},
			Jwt: &plugsv1.JwtScheme{WholeBody: true, Algorithms: []string{"HS256"}, Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_HMAC}}},
	} {
		if _, err := verify.Compile(s, nil); !errors.Is(err, verify.ErrInvalidScheme) {
			t.Errorf("%s: got %v, want ErrInvalidScheme", name, err)
		}
	}
}

// Sign writes a labelled signature into a form field, and it verifies.
func TestSignLabelledFormField(t *testing.T) {
	doc := `<notification><kind>check</kind></notification>`
	body := url.Values{"payload": {base64.StdEncoding.EncodeToString([]byte(doc))}}.Encode()
	s, err := verify.Sign(braintreeLike(), testSecret, verify.Message{Method: "POST", URL: testURL, ContentType: formCT, Body: []byte(body)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	v := mustCompile(t, braintreeLike(), secretsOf(testSecret))
	req := &verify.Request{Method: "POST", URL: testURL, Header: s.Header, Body: payload.New(s.Body, formCT)}
	if err := v.Verify(req, verify.Options{Now: testNow}); err != nil {
		t.Fatalf("%s: %v", s.Body, err)
	}
}

// FuzzBase64XMLDocument sends random labelled signature lists and payload
// fields: nothing panics, every failure is a sentinel or unparsable, and a
// payload signed correctly verifies exactly when it is base64 of XML that
// DecodeXML reads, the document then holding that XML's tree.
func FuzzBase64XMLDocument(f *testing.F) {
	v := mustCompile(f, braintreeLike(), secretsOf(testSecret))
	f.Add("pk|00&other|", base64.StdEncoding.EncodeToString([]byte("<n><kind>k</kind></n>")))
	f.Add("|||&&", "PG4+PC9uPg==\n")
	f.Add("pk|zz", "%%")
	f.Fuzz(func(t *testing.T, sigText, field string) {
		body := url.Values{"sig": {sigText}, "payload": {field}}.Encode()
		if err := v.Verify(newRequest("POST", testURL, formCT, nil, body), verify.Options{Now: testNow}); err != nil &&
			!isSentinel(err) && !errors.Is(err, payload.ErrUnparsable) {
			t.Fatalf("%v is no sentinel", err)
		}
		if strings.Count(sigText, "&") >= 14 {
			return // ours would be past the 16 signatures tried
		}
		signed := url.Values{"sig": {sigText + "&pk|" + sha1KeyedHex(testSecret, field)}, "payload": {field}}.Encode()
		req := newRequest("POST", testURL, formCT, nil, signed)
		err := v.Verify(req, verify.Options{Now: testNow})
		raw, derr := base64.StdEncoding.DecodeString(field)
		if derr != nil {
			return // decoded loosely (line breaks, no padding): checked by the unit tests
		}
		if _, xerr := payload.DecodeXML(raw); xerr != nil {
			if !errors.Is(err, payload.ErrUnparsable) {
				t.Fatalf("payload %q is no XML, got %v", field, err)
			}
			return
		}
		if err != nil || req.Document == nil {
			t.Fatalf("payload %q: %v (document %v)", field, err, req.Document != nil)
		}
	})
}
