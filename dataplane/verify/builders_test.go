package verify_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const (
	kQuery  = plugsv1.SignedPart_KIND_QUERY_PARAM
	kSecret = plugsv1.SignedPart_KIND_SECRET
)

// mercadoLike signs a manifest of a query parameter, a header and the
// structured header's timestamp, as Mercado Pago does.
func mercadoLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha256Alg, Encoding: hexEnc, Header: "x-signature",
		Structured: &plugsv1.StructuredHeader{ItemSeparator: ",", KeyValueSeparator: "=", SignatureKey: "v1", TimestampKey: "ts"},
		SignedParts: signedParts(signedPart(kLiteral, "id:"), signedPart(kQuery, "data.id"), signedPart(kLiteral, ";request-id:"),
			signedPart(kHeader, "x-request-id"), signedPart(kLiteral, ";ts:"), signedPart(kTimestamp), signedPart(kLiteral, ";")),
		Timestamp:      &plugsv1.TimestampSource{Format: unixSeconds},
		SecretEncoding: rawSecret,
	}
}

func TestQueryParamPart(t *testing.T) {
	manifest := func(id string) string { return "id:" + id + ";request-id:req-1;ts:" + testNowTS + ";" }
	sig := func(id string) string { return "ts=" + testNowTS + ",v1=" + hexSig(testSecret, manifest(id)) }
	base := "https://hooks.example.com/in/src_1"
	runCases(t, []vcase{
		{name: "valid", scheme: mercadoLike(), url: base + "?data.id=123456&type=payment",
			header: headers("x-signature", sig("123456"), "x-request-id", "req-1")},
		{name: "escaped in the query", scheme: mercadoLike(), url: base + "?type=payment&data.id=a%2Bb+c",
			header: headers("x-signature", sig("a+b c"), "x-request-id", "req-1")},
		{name: "first of repeated", scheme: mercadoLike(), url: base + "?data.id=1&data.id=2",
			header: headers("x-signature", sig("1"), "x-request-id", "req-1")},
		{name: "another id", scheme: mercadoLike(), url: base + "?data.id=654321",
			header: headers("x-signature", sig("123456"), "x-request-id", "req-1"), want: verify.ErrSignatureInvalid},
		{name: "wrong key", scheme: mercadoLike(), url: base + "?data.id=123456",
			header: headers("x-signature", "ts="+testNowTS+",v1="+hexSig(otherSecret, manifest("123456")), "x-request-id", "req-1"), want: verify.ErrSignatureInvalid},
		{name: "parameter missing", scheme: mercadoLike(), url: base + "?type=payment",
			header: headers("x-signature", sig(""), "x-request-id", "req-1"), want: verify.ErrSignatureMissing},
		{name: "bad escape", scheme: mercadoLike(), url: base + "?data.id=%zz",
			header: headers("x-signature", sig(""), "x-request-id", "req-1"), want: verify.ErrSignatureMalformed},
	})
	optional := mercadoLike()
	optional.SignedParts[1].Optional = true
	runCases(t, []vcase{{name: "optional and absent", scheme: optional, url: base,
		header: headers("x-signature", sig(""), "x-request-id", "req-1")}})
	lower := mercadoLike()
	lower.SignedParts[1].Lowercase = true
	runCases(t, []vcase{
		{name: "lowercased", scheme: lower, url: base + "?data.id=ORD01JQ4S4KY8",
			header: headers("x-signature", sig("ord01jq4s4ky8"), "x-request-id", "req-1")},
		{name: "lowercased, signed as sent", scheme: lower, url: base + "?data.id=ORD01JQ4S4KY8",
			header: headers("x-signature", sig("ORD01JQ4S4KY8"), "x-request-id", "req-1"), want: verify.ErrSignatureInvalid},
		{name: "not lowercased", scheme: mercadoLike(), url: base + "?data.id=ORD01JQ4S4KY8",
			header: headers("x-signature", sig("ord01jq4s4ky8"), "x-request-id", "req-1"), want: verify.ErrSignatureInvalid},
	})
}

func TestQueryValue(t *testing.T) {
	for _, c := range []struct {
		url, name, want string
		ok              bool
	}{
		{"https://h/p?a=1&b=2", "b", "2", true},
		{"https://h/p?a=1&b=2#b=3", "b", "2", true},
		{"https://h/p?a%2Eb=x", "a.b", "x", true},
		{"https://h/p?a", "a", "", true},
		{"https://h/p", "a", "", false},
		{"a=1&b=2", "a", "1", true},
		{"https://h/p?&&a=%20", "a", " ", true},
	} {
		got, ok, err := verify.QueryValue(c.url, c.name)
		if err != nil || got != c.want || ok != c.ok {
			t.Errorf("QueryValue(%q, %q) = %q, %v, %v; want %q, %v", c.url, c.name, got, ok, err, c.want, c.ok)
		}
	}
}

// Recurly: "<ts>,<sig>,<sig>", the first item the timestamp.
func recurlyLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha256Alg, Encoding: hexEnc, Header: "recurly-signature", SignatureSeparator: ",",
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, "."), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Format: unixMillis, LeadingItem: true},
		SecretEncoding: rawSecret,
	}
}

func TestLeadingTimestampList(t *testing.T) {
	ms := strconv.FormatInt(testNow.UnixMilli(), 10)
	good := hexSig(testSecret, ms, ".", testBody)
	other := hexSig(otherSecret, ms, ".", testBody)
	old := strconv.FormatInt(testNow.Add(-time.Hour).UnixMilli(), 10)
	runCases(t, []vcase{
		{name: "one signature", scheme: recurlyLike(), header: headers("recurly-signature", ms+","+good)},
		{name: "second of two", scheme: recurlyLike(), header: headers("recurly-signature", ms+","+other+","+good)},
		{name: "spaces", scheme: recurlyLike(), header: headers("recurly-signature", ms+", "+other+" , "+good)},
		{name: "wrong key", scheme: recurlyLike(), header: headers("recurly-signature", ms+","+other), want: verify.ErrSignatureInvalid},
		{name: "timestamp changed", scheme: recurlyLike(), header: headers("recurly-signature", old+","+good), want: verify.ErrSignatureInvalid},
		{name: "stale", scheme: recurlyLike(), header: headers("recurly-signature", old+","+hexSig(testSecret, old, ".", testBody)), want: verify.ErrSignatureStale},
		{name: "only a timestamp", scheme: recurlyLike(), header: headers("recurly-signature", ms), want: verify.ErrSignatureMalformed},
		{name: "timestamp not a number", scheme: recurlyLike(), header: headers("recurly-signature", "soon,"+hexSig(testSecret, "soon", ".", testBody)), want: verify.ErrSignatureMalformed},
		{name: "header missing", scheme: recurlyLike(), want: verify.ErrSignatureMissing},
	})
}

// Metronome: the Date header (an HTTP date) signed before the body.
func dateSigned() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha256Alg, Encoding: hexEnc, Header: "Metronome-Webhook-Signature",
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, "\n"), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Header: "Date", Format: plugsv1.TimestampSource_FORMAT_HTTP_DATE},
		SecretEncoding: rawSecret,
	}
}

func TestHTTPDate(t *testing.T) {
	date := testNow.Format(http.TimeFormat)
	rfc850 := testNow.Format(time.RFC850)
	old := testNow.Add(-time.Hour).Format(http.TimeFormat)
	runCases(t, []vcase{
		{name: "IMF-fixdate", scheme: dateSigned(), header: headers("Date", date, "Metronome-Webhook-Signature", hexSig(testSecret, date, "\n", testBody))},
		{name: "RFC 850", scheme: dateSigned(), header: headers("Date", rfc850, "Metronome-Webhook-Signature", hexSig(testSecret, rfc850, "\n", testBody))},
		{name: "wrong key", scheme: dateSigned(), header: headers("Date", date, "Metronome-Webhook-Signature", hexSig(otherSecret, date, "\n", testBody)), want: verify.ErrSignatureInvalid},
		{name: "stale", scheme: dateSigned(), header: headers("Date", old, "Metronome-Webhook-Signature", hexSig(testSecret, old, "\n", testBody)), want: verify.ErrSignatureStale},
		{name: "not a date", scheme: dateSigned(), header: headers("Date", "yesterday", "Metronome-Webhook-Signature", hexSig(testSecret, "yesterday", "\n", testBody)), want: verify.ErrSignatureMalformed},
		{name: "date missing", scheme: dateSigned(), header: headers("Metronome-Webhook-Signature", hexSig(testSecret, "\n", testBody)), want: verify.ErrSignatureMissing},
	})
	if got := verify.FormatTime(testNow, plugsv1.TimestampSource_FORMAT_HTTP_DATE); got != date {
		t.Errorf("FormatTime = %q, want %q", got, date)
	}
}

// Box signs under two keys into two headers; Svix senders use svix-* or
// webhook-* names.
func TestHeaderAlternatives(t *testing.T) {
	box := &plugsv1.SignatureScheme{
		Algorithm: sha256Alg, Encoding: b64Enc, Header: "box-signature-primary",
		HeaderAlternatives: []*plugsv1.HeaderAlternatives{{Header: "box-signature-primary", Alternatives: []string{"box-signature-secondary"}}},
		SignedParts:        signedParts(signedPart(kBody), signedPart(kTimestamp)),
		Timestamp:          &plugsv1.TimestampSource{Header: "box-delivery-timestamp", Format: rfc3339},
		SecretEncoding:     rawSecret,
	}
	ts := testNow.Format(time.RFC3339)
	primary := b64Sig([]byte(testSecret), testBody, ts)
	secondary := b64Sig([]byte(otherSecret), testBody, ts)
	runCases(t, []vcase{
		{name: "box/primary key", scheme: box, header: headers("box-delivery-timestamp", ts, "box-signature-primary", primary, "box-signature-secondary", secondary)},
		{name: "box/secondary key", scheme: box, secrets: secretsOf(otherSecret),
			header: headers("box-delivery-timestamp", ts, "box-signature-primary", primary, "box-signature-secondary", secondary)},
		{name: "box/secondary alone", scheme: box, secrets: secretsOf(otherSecret), header: headers("box-delivery-timestamp", ts, "box-signature-secondary", secondary)},
		{name: "box/neither key", scheme: box, secrets: secretsOf("third-key-0123456789"),
			header: headers("box-delivery-timestamp", ts, "box-signature-primary", primary, "box-signature-secondary", secondary), want: verify.ErrSignatureInvalid},
		{name: "box/no signature header", scheme: box, header: headers("box-delivery-timestamp", ts), want: verify.ErrSignatureMissing},
	})
	svix := standardLike()
	svix.HeaderAlternatives = []*plugsv1.HeaderAlternatives{
		{Header: "webhook-id", Alternatives: []string{"svix-id"}},
		{Header: "webhook-timestamp", Alternatives: []string{"svix-timestamp"}},
		{Header: "webhook-signature", Alternatives: []string{"svix-signature"}},
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	sig := "v1," + b64Sig(key, "msg_1.", testNowTS, ".", testBody)
	runCases(t, []vcase{
		{name: "svix/webhook-* names", scheme: svix, secrets: secretsOf(secret),
			header: headers("webhook-id", "msg_1", "webhook-timestamp", testNowTS, "webhook-signature", sig)},
		{name: "svix/svix-* names", scheme: svix, secrets: secretsOf(secret),
			header: headers("svix-id", "msg_1", "svix-timestamp", testNowTS, "svix-signature", sig)},
		{name: "svix/mixed names", scheme: svix, secrets: secretsOf(secret),
			header: headers("svix-id", "msg_1", "webhook-timestamp", testNowTS, "svix-signature", sig)},
		{name: "svix/id from another message", scheme: svix, secrets: secretsOf(secret),
			header: headers("svix-id", "msg_2", "svix-timestamp", testNowTS, "svix-signature", sig), want: verify.ErrSignatureInvalid},
		{name: "svix/no id", scheme: svix, secrets: secretsOf(secret),
			header: headers("svix-timestamp", testNowTS, "svix-signature", sig), want: verify.ErrSignatureMissing},
	})
}

// Plain digests put the secret into the hashed content.
func TestPlainDigest(t *testing.T) {
	digest := func(alg plugsv1.SignatureScheme_Algorithm, parts ...*plugsv1.SignedPart) *plugsv1.SignatureScheme {
		return &plugsv1.SignatureScheme{Algorithm: alg, Encoding: hexEnc, Header: "X-Sig", SignedParts: parts, SecretEncoding: rawSecret}
	}
	recharge := digest(plugsv1.SignatureScheme_ALGORITHM_SHA256, signedPart(kSecret), signedPart(kBody))
	cloudinary := digest(plugsv1.SignatureScheme_ALGORITHM_SHA1, signedPart(kBody), signedPart(kHeader, "X-Ts"), signedPart(kSecret))
	sha512Fields := digest(plugsv1.SignatureScheme_ALGORITHM_SHA512, signedPart(kField, "$.id"), signedPart(kSecret))
	h256 := func(s ...string) string {
		x := sha256.Sum256([]byte(strings.Join(s, "")))
		return hex.EncodeToString(x[:])
	}
	h1 := func(s ...string) string { x := sha1.Sum([]byte(strings.Join(s, ""))); return hex.EncodeToString(x[:]) }
	h512 := func(s ...string) string {
		x := sha512.Sum512([]byte(strings.Join(s, "")))
		return hex.EncodeToString(x[:])
	}
	runCases(t, []vcase{
		{name: "sha256(secret+body)", scheme: recharge, header: headers("X-Sig", h256(testSecret, testBody))},
		{name: "sha256/wrong secret", scheme: recharge, header: headers("X-Sig", h256(otherSecret, testBody)), want: verify.ErrSignatureInvalid},
		{name: "sha256/without the secret", scheme: recharge, header: headers("X-Sig", h256(testBody)), want: verify.ErrSignatureInvalid},
		{name: "sha256/rotation", scheme: recharge, secrets: secretsOf(otherSecret, testSecret), header: headers("X-Sig", h256(testSecret, testBody))},
		{name: "sha1(body+ts+secret)", scheme: cloudinary, header: headers("X-Ts", "1700000000", "X-Sig", h1(testBody, "1700000000", testSecret))},
		{name: "sha1/tampered", scheme: cloudinary, header: headers("X-Ts", "1700000001", "X-Sig", h1(testBody, "1700000000", testSecret)), want: verify.ErrSignatureInvalid},
		{name: "sha512(field+secret)", scheme: sha512Fields, header: headers("X-Sig", h512("evt_1", testSecret))},
		{name: "sha512/missing field", scheme: sha512Fields, body: `{"x":1}`, header: headers("X-Sig", h512("evt_1", testSecret)), want: verify.ErrSignatureMissing},
	})
	if _, err := verify.Compile(digest(plugsv1.SignatureScheme_ALGORITHM_SHA256, signedPart(kBody)), nil); !errors.Is(err, verify.ErrInvalidScheme) {
		t.Errorf("a digest without the secret compiled: %v", err)
	}
	if _, err := verify.Compile(signedBy(signedPart(kSecret), signedPart(kBody)), nil); !errors.Is(err, verify.ErrInvalidScheme) {
		t.Errorf("an HMAC signing its own key compiled: %v", err)
	}
	s, err := verify.Sign(recharge, testSecret, verify.Message{Method: "POST", Body: []byte(testBody), ContentType: jsonCT}, testNow)
	if err != nil || s.Header.Get("X-Sig") != h256(testSecret, testBody) {
		t.Errorf("Sign: %v, %q", err, s.Header.Get("X-Sig"))
	}
}

func TestHMACMD5(t *testing.T) {
	patreon := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_MD5, Encoding: hexEnc, Header: "X-Patreon-Signature",
		SignedParts: signedParts(signedPart(kBody)), SecretEncoding: rawSecret}
	runCases(t, []vcase{
		{name: "valid", scheme: patreon, header: headers("X-Patreon-Signature", hex.EncodeToString(macOf(md5.New, []byte(testSecret), testBody)))},
		{name: "wrong key", scheme: patreon, header: headers("X-Patreon-Signature", hex.EncodeToString(macOf(md5.New, []byte(otherSecret), testBody))), want: verify.ErrSignatureInvalid},
		{name: "sha256 under the key", scheme: patreon, header: headers("X-Patreon-Signature", hexSig(testSecret, testBody)), want: verify.ErrSignatureInvalid},
	})
}

func TestSignatureAndTokenInQuery(t *testing.T) {
	panda := &plugsv1.SignatureScheme{Algorithm: sha256Alg, Encoding: hexEnc, SignatureQueryParam: "signature",
		SignedParts: signedParts(signedPart(kBody)), SecretEncoding: rawSecret}
	base := "https://hooks.example.com/in/src_1"
	runCases(t, []vcase{
		{name: "signature/valid", scheme: panda, url: base + "?signature=" + hexSig(testSecret, testBody)},
		{name: "signature/wrong key", scheme: panda, url: base + "?signature=" + hexSig(otherSecret, testBody), want: verify.ErrSignatureInvalid},
		{name: "signature/missing", scheme: panda, url: base + "?sig=" + hexSig(testSecret, testBody), want: verify.ErrSignatureMissing},
		{name: "signature/empty", scheme: panda, url: base + "?signature=", want: verify.ErrSignatureMissing},
	})
	inQuery := &plugsv1.SignatureScheme{Algorithm: tokenAlg, TokenQueryParam: "token", SecretEncoding: rawSecret}
	runCases(t, []vcase{
		{name: "token query/valid", scheme: inQuery, url: base + "?token=" + testSecret},
		{name: "token query/wrong", scheme: inQuery, url: base + "?token=" + otherSecret, want: verify.ErrSignatureInvalid},
		{name: "token query/missing", scheme: inQuery, url: base, want: verify.ErrSignatureMissing},
	})
	inBody := &plugsv1.SignatureScheme{Algorithm: tokenAlg, TokenJsonPath: "$.value[*].clientState", SecretEncoding: rawSecret}
	item := func(state string) string { return `{"clientState":"` + state + `","changeType":"created"}` }
	runCases(t, []vcase{
		{name: "token body/all match", scheme: inBody, body: `{"value":[` + item(testSecret) + `,` + item(testSecret) + `]}`},
		{name: "token body/one forged", scheme: inBody, body: `{"value":[` + item(testSecret) + `,` + item(otherSecret) + `]}`, want: verify.ErrSignatureInvalid},
		{name: "token body/none", scheme: inBody, body: `{"value":[]}`, want: verify.ErrSignatureMissing},
		{name: "token body/not a string", scheme: inBody, body: `{"value":[{"clientState":1}]}`, want: verify.ErrSignatureMalformed},
		{name: "token body/not JSON", scheme: inBody, body: `clientState=x`, want: verify.ErrSignatureMissing},
	})
}

// adyenLike signs fields of each item, escaped and joined with ":".
func adyenLike() *plugsv1.SignatureScheme {
	s := &plugsv1.SignatureScheme{Algorithm: sha256Alg, Encoding: b64Enc, SecretEncoding: hexSecret,
		ItemsJsonPath: "$.items[*].item", SignatureJsonPath: "$.sig"}
	for i, f := range []string{"$.a", "$.b", "$.n"} {
		if i > 0 {
			s.SignedParts = append(s.SignedParts, signedPart(kLiteral, ":"))
		}
		s.SignedParts = append(s.SignedParts, &plugsv1.SignedPart{Kind: kField, Value: f, Escape: ":", Optional: true})
	}
	return s
}

// Adyen's published escaping vector (hmacvalidator_test.go, TestCalculateHmac):
// values holding ":" are escaped before they are joined.
func TestEscapedFieldsPublishedVector(t *testing.T) {
	names := "countryCode:currencyCode:merchantAccount:merchantReference:paymentAmount:sessionValidity:skinCode:"
	values := []string{"NL", "EUR", "MagentoMerchantTest2", "TEST-PAYMENT-2017-02-01-14:02:05", "199", "2017-02-02T14:02:05+01:00", "PKz2KML1"}
	scheme := &plugsv1.SignatureScheme{Algorithm: sha256Alg, Encoding: b64Enc, SecretEncoding: hexSecret, SignatureJsonPath: "$.sig",
		SignedParts: signedParts(signedPart(kLiteral, names))}
	body := `{"sig":"34oR8T1whkQWTv9P+SzKyp8zhusf9n0dpqrm9nsqSJs="`
	for i, v := range values {
		if i > 0 {
			scheme.SignedParts = append(scheme.SignedParts, signedPart(kLiteral, ":"))
		}
		f := "f" + strconv.Itoa(i)
		scheme.SignedParts = append(scheme.SignedParts, &plugsv1.SignedPart{Kind: kField, Value: "$." + f, Escape: ":"})
		body += `,"` + f + `":"` + v + `"`
	}
	body += "}"
	key := "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
	runCases(t, []vcase{
		{name: "published", scheme: scheme, secrets: secretsOf(key), body: body},
		{name: "unescaped would differ", scheme: scheme, secrets: secretsOf(key), body: strings.Replace(body, "14:02:05\"", "14\\\\:02:05\"", 1), want: verify.ErrSignatureInvalid},
	})
}

func TestItems(t *testing.T) {
	key := "00112233445566778899aabbccddeeff"
	rawKey, _ := hex.DecodeString(key)
	sig := func(a, b, n string) string {
		return base64.StdEncoding.EncodeToString(macOf(sha256.New, rawKey, a+":"+b+":"+n))
	}
	item := func(a, b, n, s string) string {
		return `{"item":{"a":"` + a + `","b":"` + b + `","n":` + n + `,"sig":"` + s + `"}}`
	}
	one := item("x:y", `back\\slash`, "1000", sig(`x\:y`, `back\\slash`, "1000"))
	two := item("p", "q", "7", sig("p", "q", "7"))
	forged := item("p", "q", "8", sig("p", "q", "7"))
	noB := `{"item":{"a":"p","n":7,"sig":"` + sig("p", "", "7") + `"}}`
	runCases(t, []vcase{
		{name: "one item, escaped", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[` + one + `]}`},
		{name: "two items", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[` + one + `,` + two + `]}`},
		{name: "absent optional field", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[` + noB + `]}`},
		{name: "one item forged", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[` + one + `,` + forged + `]}`, want: verify.ErrSignatureInvalid},
		{name: "wrong key", scheme: adyenLike(), secrets: secretsOf("ffeeddccbbaa99887766554433221100"), body: `{"items":[` + two + `]}`, want: verify.ErrSignatureInvalid},
		{name: "no items", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[]}`, want: verify.ErrSignatureMissing},
		{name: "item without signature", scheme: adyenLike(), secrets: secretsOf(key), body: `{"items":[{"item":{"a":"p"}}]}`, want: verify.ErrSignatureMissing},
		{name: "not JSON", scheme: adyenLike(), secrets: secretsOf(key), body: `items=1`, want: verify.ErrSignatureMissing},
		{name: "no secret", scheme: adyenLike(), secrets: []*plugsv1.SigningSecret{}, body: `{"items":[` + two + `]}`, want: verify.ErrSecretMissing},
	})

	// Per item, as batch fan-out calls it: the good item passes, the forged
	// one fails, each on its own.
	v := mustCompile(t, adyenLike(), secretsOf(key))
	req := newRequest(http.MethodPost, testURL, jsonCT, nil, `{"items":[`+two+`,`+forged+`]}`)
	items, err := v.Items(req.Body)
	if err != nil || len(items) != 2 {
		t.Fatalf("Items: %d, %v", len(items), err)
	}
	if err := v.VerifyItem(req, items[0], verify.Options{Now: testNow}); err != nil {
		t.Errorf("good item: %v", err)
	}
	if err := v.VerifyItem(req, items[1], verify.Options{Now: testNow}); !errors.Is(err, verify.ErrSignatureInvalid) {
		t.Errorf("forged item: %v", err)
	}
	if got, _ := mustCompile(t, stripeLike(), nil).Items(payload.New([]byte(testBody), jsonCT)); got != nil {
		t.Errorf("a whole-body scheme has items: %v", got)
	}

	// Sign writes each item's signature; Verify takes them.
	s, err := verify.Sign(adyenLike(), key, verify.Message{Method: "POST", ContentType: jsonCT,
		Body: []byte(`{"items":[{"item":{"a":"1:2","n":5,"sig":""}},{"item":{"a":"3","b":"4","n":6}}]}`)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(&verify.Request{Method: "POST", URL: testURL, Header: s.Header, Body: payload.New(s.Body, jsonCT)}, verify.Options{Now: testNow}); err != nil {
		t.Errorf("signed items: %v (%s)", err, s.Body)
	}
}
