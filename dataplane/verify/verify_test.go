package verify_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Shared fixtures. Every scheme below is built here, not taken from the
// template catalog, so a change to a template cannot hide an engine change.
const (
	testSecret  = "s3cr3t-signing-key"
	otherSecret = "some-other-signing-key"
	testBody    = `{"id":"evt_1","type":"thing.created"}`
	testURL     = "https://hooks.example.com/in/src_1?x=1"
	jsonCT      = "application/json"
	formCT      = "application/x-www-form-urlencoded"
)

var (
	testNow   = time.Unix(1_700_000_000, 0).UTC()
	testNowTS = strconv.FormatInt(testNow.Unix(), 10)
)

// Short names for the enums.
const (
	sha256Alg = plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256
	sha1Alg   = plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA1
	sha512Alg = plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA512
	edAlg     = plugsv1.SignatureScheme_ALGORITHM_ED25519
	tokenAlg  = plugsv1.SignatureScheme_ALGORITHM_TOKEN
	basicAlg  = plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH

	hexEnc    = plugsv1.SignatureScheme_ENCODING_HEX
	b64Enc    = plugsv1.SignatureScheme_ENCODING_BASE64
	b64urlEnc = plugsv1.SignatureScheme_ENCODING_BASE64URL

	rawSecret   = plugsv1.SignatureScheme_SECRET_ENCODING_RAW
	whsecSecret = plugsv1.SignatureScheme_SECRET_ENCODING_WHSEC_BASE64
	hexSecret   = plugsv1.SignatureScheme_SECRET_ENCODING_HEX
	b64Secret   = plugsv1.SignatureScheme_SECRET_ENCODING_BASE64

	kBody      = plugsv1.SignedPart_KIND_BODY
	kTimestamp = plugsv1.SignedPart_KIND_TIMESTAMP
	kID        = plugsv1.SignedPart_KIND_ID
	kURL       = plugsv1.SignedPart_KIND_URL
	kForm      = plugsv1.SignedPart_KIND_SORTED_FORM_PARAMS
	kLiteral   = plugsv1.SignedPart_KIND_LITERAL
	kHeader    = plugsv1.SignedPart_KIND_HEADER
	kMethod    = plugsv1.SignedPart_KIND_METHOD
	kField     = plugsv1.SignedPart_KIND_BODY_FIELD

	unixSeconds = plugsv1.TimestampSource_FORMAT_UNIX_SECONDS
	unixMillis  = plugsv1.TimestampSource_FORMAT_UNIX_MILLIS
	rfc3339     = plugsv1.TimestampSource_FORMAT_RFC3339
)

func signedPart(kind plugsv1.SignedPart_Kind, value ...string) *plugsv1.SignedPart {
	return &plugsv1.SignedPart{Kind: kind, Value: strings.Join(value, "")}
}

func signedParts(ps ...*plugsv1.SignedPart) []*plugsv1.SignedPart { return ps }

// stripeLike: "t=<ts>,v1=<hex>,v1=<hex>" over "<ts>.<body>".
func stripeLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha256Alg,
		Encoding:  hexEnc,
		Header:    "Stripe-Signature",
		Structured: &plugsv1.StructuredHeader{
			ItemSeparator: ",", KeyValueSeparator: "=", SignatureKey: "v1", TimestampKey: "t",
		},
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, "."), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Format: unixSeconds},
		SecretEncoding: rawSecret,
	}
}

// paddleLike: "ts=<ts>;h1=<hex>" over "<ts>:<body>", 5 s tolerance.
func paddleLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm: sha256Alg,
		Encoding:  hexEnc,
		Header:    "Paddle-Signature",
		Structured: &plugsv1.StructuredHeader{
			ItemSeparator: ";", KeyValueSeparator: "=", SignatureKey: "h1", TimestampKey: "ts",
		},
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, ":"), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Format: unixSeconds},
		Tolerance:      durationpb.New(5 * time.Second),
		SecretEncoding: rawSecret,
	}
}

// standardLike: Standard Webhooks, "v1,<b64> v1,<b64>" over
// "<id>.<ts>.<body>" with a whsec_ secret.
func standardLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:          sha256Alg,
		Encoding:           b64Enc,
		Header:             "webhook-signature",
		Prefix:             "v1,",
		SignatureSeparator: " ",
		IdHeader:           "webhook-id",
		SignedParts: signedParts(signedPart(kID), signedPart(kLiteral, "."), signedPart(kTimestamp),
			signedPart(kLiteral, "."), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Header: "webhook-timestamp", Format: unixSeconds},
		SecretEncoding: whsecSecret,
	}
}

// githubLike: "sha256=<hex>" over the body.
func githubLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:      sha256Alg,
		Encoding:       hexEnc,
		Header:         "X-Hub-Signature-256",
		Prefix:         "sha256=",
		SignedParts:    signedParts(signedPart(kBody)),
		SecretEncoding: rawSecret,
	}
}

// timestamped: signature header over "<ts>.<body>" with the timestamp in
// its own header.
func timestamped() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:      sha256Alg,
		Encoding:       hexEnc,
		Header:         "X-Sig",
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, "."), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{Header: "X-Ts", Format: unixSeconds},
		SecretEncoding: rawSecret,
	}
}

// twilioLike: base64 HMAC-SHA1 over the URL and the sorted form fields.
func twilioLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:      sha1Alg,
		Encoding:       b64Enc,
		Header:         "X-Twilio-Signature",
		SignedParts:    signedParts(signedPart(kURL), signedPart(kForm)),
		SecretEncoding: rawSecret,
	}
}

// mailgunLike: the signature, its timestamp and the token are in the body.
func mailgunLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:         sha256Alg,
		Encoding:          hexEnc,
		SignatureJsonPath: "$.signature.signature",
		SignedParts: signedParts(signedPart(kField, "$.signature.timestamp"),
			signedPart(kField, "$.signature.token")),
		Timestamp:      &plugsv1.TimestampSource{JsonPath: "$.signature.timestamp", Format: unixSeconds},
		SecretEncoding: rawSecret,
	}
}

// linearLike: hex over the body, timestamp in milliseconds inside the body.
func linearLike() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:      sha256Alg,
		Encoding:       hexEnc,
		Header:         "Linear-Signature",
		SignedParts:    signedParts(signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{JsonPath: "$.webhookTimestamp", Format: unixMillis},
		Tolerance:      durationpb.New(60 * time.Second),
		SecretEncoding: rawSecret,
	}
}

// bodyOnly signs the body alone with the given algorithm and encoding.
func bodyOnly(alg plugsv1.SignatureScheme_Algorithm, enc plugsv1.SignatureScheme_Encoding) *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{
		Algorithm:      alg,
		Encoding:       enc,
		Header:         "X-Sig",
		SignedParts:    signedParts(signedPart(kBody)),
		SecretEncoding: rawSecret,
	}
}

func signedBy(partsOf ...*plugsv1.SignedPart) *plugsv1.SignatureScheme {
	s := bodyOnly(sha256Alg, hexEnc)
	s.SignedParts = partsOf
	return s
}

func tokenScheme() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{Algorithm: tokenAlg, TokenHeader: "x-gitlab-token", SecretEncoding: rawSecret}
}

func basicScheme() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{Algorithm: basicAlg, SecretEncoding: rawSecret}
}

// MAC helpers, computed independently of the engine.

func macOf(h func() hash.Hash, key []byte, msg ...string) []byte {
	m := hmac.New(h, key)
	for _, s := range msg {
		m.Write([]byte(s))
	}
	return m.Sum(nil)
}

// hexSig is hex HMAC-SHA256 of the concatenated parts.
func hexSig(key string, msg ...string) string {
	return hex.EncodeToString(macOf(sha256.New, []byte(key), msg...))
}

// b64Sig is padded base64 HMAC-SHA256 of the concatenated parts.
func b64Sig(key []byte, msg ...string) string {
	return base64.StdEncoding.EncodeToString(macOf(sha256.New, key, msg...))
}

func unixText(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Secrets.

func secretsOf(vals ...string) []*plugsv1.SigningSecret {
	out := make([]*plugsv1.SigningSecret, 0, len(vals))
	for i, v := range vals {
		out = append(out, &plugsv1.SigningSecret{Id: fmt.Sprintf("s%d", i+1), Value: []byte(v)})
	}
	return out
}

func expiring(val string, at time.Time) *plugsv1.SigningSecret {
	return &plugsv1.SigningSecret{Id: "exp", Value: []byte(val), ExpireTime: timestamppb.New(at)}
}

func headers(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func newRequest(method, url, ct string, headers map[string]string, body string) *verify.Request {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &verify.Request{Method: method, URL: url, Header: h, Body: payload.New([]byte(body), ct)}
}

func mustCompile(t testing.TB, scheme *plugsv1.SignatureScheme, secrets []*plugsv1.SigningSecret) *verify.Verifier {
	t.Helper()
	v, err := verify.Compile(scheme, secrets)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return v
}

// wantErr fails t unless err is nil (want nil) or wraps want.
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case want != nil && err == nil:
		t.Fatalf("%s: succeeded, want %v", what, want)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: %v, want an error wrapping %v", what, err, want)
	}
}

// vcase is one verification: a scheme, its secrets, a request and the
// expected outcome (nil for success, else the sentinel it must wrap).
type vcase struct {
	name    string
	scheme  *plugsv1.SignatureScheme
	secrets []*plugsv1.SigningSecret // nil: the one secret testSecret
	method  string                   // "": POST
	url     string                   // "": testURL
	ct      string                   // "": application/json
	header  map[string]string
	body    string // "": testBody
	clock   time.Time
	fresh   bool // SkipFreshness
	want    error
}

func runCases(t *testing.T, cases []vcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secrets := c.secrets
			if secrets == nil {
				secrets = secretsOf(testSecret)
			}
			method, url, ct, body, at := c.method, c.url, c.ct, c.body, c.clock
			if method == "" {
				method = http.MethodPost
			}
			if url == "" {
				url = testURL
			}
			if ct == "" {
				ct = jsonCT
			}
			if body == "" {
				body = testBody
			}
			if at.IsZero() {
				at = testNow
			}
			v := mustCompile(t, c.scheme, secrets)
			err := v.Verify(newRequest(method, url, ct, c.header, body), verify.Options{Now: at, SkipFreshness: c.fresh})
			wantErr(t, "Verify", err, c.want)
		})
	}
}

func TestStructuredHeader(t *testing.T) {
	good := hexSig(testSecret, testNowTS, ".", testBody)
	bad := hexSig(otherSecret, testNowTS, ".", testBody)
	oldTS := unixText(testNow.Add(-301 * time.Second))
	oldGood := hexSig(testSecret, oldTS, ".", testBody)
	pGood := hexSig(testSecret, testNowTS, ":", testBody)
	pBad := hexSig(otherSecret, testNowTS, ":", testBody)
	pOld := unixText(testNow.Add(-6 * time.Second))
	stripe, paddle := stripeLike(), paddleLike()
	sh := func(v string) map[string]string { return headers("Stripe-Signature", v) }
	ph := func(v string) map[string]string { return headers("Paddle-Signature", v) }
	runCases(t, []vcase{
		{name: "stripe/one v1", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + good)},
		{name: "stripe/second v1 is the right one", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + bad + ",v1=" + good)},
		{name: "stripe/v0 and v1", scheme: stripe, header: sh("t=" + testNowTS + ",v0=" + bad + ",v1=" + good)},
		{name: "stripe/timestamp last", scheme: stripe, header: sh("v1=" + good + ",t=" + testNowTS)},
		{name: "stripe/spaces around items", scheme: stripe, header: sh(" t=" + testNowTS + ", v1=" + bad + " , v1=" + good + " ")},
		{name: "stripe/only wrong v1", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + bad + ",v1=" + bad), want: verify.ErrSignatureInvalid},
		{name: "stripe/right signature under another key name", scheme: stripe, header: sh("t=" + testNowTS + ",v0=" + good), want: verify.ErrSignatureMalformed},
		{name: "stripe/signature over another timestamp", scheme: stripe, header: sh("t=" + unixText(testNow.Add(time.Second)) + ",v1=" + good), want: verify.ErrSignatureInvalid},
		{name: "stripe/tampered body", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + good), body: testBody + " ", want: verify.ErrSignatureInvalid},
		{name: "stripe/no timestamp item", scheme: stripe, header: sh("v1=" + good), want: verify.ErrSignatureMalformed},
		{name: "stripe/empty timestamp item", scheme: stripe, header: sh("t=,v1=" + good), want: verify.ErrSignatureMalformed},
		{name: "stripe/v1 not hex", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + strings.Repeat("zz", 32)), want: verify.ErrSignatureMalformed},
		{name: "stripe/v1 odd length", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + good[1:]), want: verify.ErrSignatureMalformed},
		{name: "stripe/upper-case hex", scheme: stripe, header: sh("t=" + testNowTS + ",v1=" + strings.ToUpper(good))},
		{name: "stripe/stale t", scheme: stripe, header: sh("t=" + oldTS + ",v1=" + oldGood), want: verify.ErrSignatureStale},
		{name: "stripe/stale t skipped", scheme: stripe, header: sh("t=" + oldTS + ",v1=" + oldGood), fresh: true},
		{name: "stripe/header missing", scheme: stripe, want: verify.ErrSignatureMissing},
		{name: "paddle/one h1", scheme: paddle, header: ph("ts=" + testNowTS + ";h1=" + pGood)},
		{name: "paddle/second h1 is the right one", scheme: paddle, header: ph("ts=" + testNowTS + ";h1=" + pBad + ";h1=" + pGood)},
		{name: "paddle/only wrong h1", scheme: paddle, header: ph("ts=" + testNowTS + ";h1=" + pBad), want: verify.ErrSignatureInvalid},
		{name: "paddle/comma separated is not paddle", scheme: paddle, header: ph("ts=" + testNowTS + ",h1=" + pGood), want: verify.ErrSignatureMalformed},
		{name: "paddle/stripe's t key is not ts", scheme: paddle, header: ph("t=" + testNowTS + ";h1=" + pGood), want: verify.ErrSignatureMalformed},
		{name: "paddle/signed with stripe's dot", scheme: paddle, header: ph("ts=" + testNowTS + ";h1=" + good), want: verify.ErrSignatureInvalid},
		{name: "paddle/6s old beyond its 5s tolerance", scheme: paddle, header: ph("ts=" + pOld + ";h1=" + hexSig(testSecret, pOld, ":", testBody)), want: verify.ErrSignatureStale},
		{name: "paddle/5s old within tolerance", scheme: paddle, header: ph("ts=" + unixText(testNow.Add(-5*time.Second)) + ";h1=" + hexSig(testSecret, unixText(testNow.Add(-5*time.Second)), ":", testBody))},
	})
}

func TestSignatureList(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	msgID := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	good := b64Sig(key, msgID, ".", testNowTS, ".", testBody)
	bad := b64Sig([]byte(otherSecret), msgID, ".", testNowTS, ".", testBody)
	sw := standardLike()
	h := func(sig string) map[string]string {
		return headers("webhook-id", msgID, "webhook-timestamp", testNowTS, "webhook-signature", sig)
	}
	ws := secretsOf(whsec)
	runCases(t, []vcase{
		{name: "one v1", scheme: sw, secrets: ws, header: h("v1," + good)},
		{name: "foreign v1a first, right v1 second", scheme: sw, secrets: ws, header: h("v1a," + good + " v1," + good)},
		{name: "v1a foreign, wrong v1, right v1", scheme: sw, secrets: ws, header: h("v1a,c2lnbmF0dXJl v1," + bad + " v1," + good)},
		{name: "right bytes only under v1a", scheme: sw, secrets: ws, header: h("v1a," + good), want: verify.ErrSignatureMalformed},
		{name: "only wrong v1", scheme: sw, secrets: ws, header: h("v1," + bad + " v1," + bad), want: verify.ErrSignatureInvalid},
		{name: "double spaces", scheme: sw, secrets: ws, header: h("v1," + bad + "  v1," + good)},
		{name: "unpadded base64", scheme: sw, secrets: ws, header: h("v1," + strings.TrimRight(good, "="))},
		{name: "v1 not base64", scheme: sw, secrets: ws, header: h("v1,!!!!"), want: verify.ErrSignatureMalformed},
		{name: "no prefix on any entry", scheme: sw, secrets: ws, header: h(good), want: verify.ErrSignatureMalformed},
		{name: "signed with the raw whsec text", scheme: sw, secrets: ws,
			header: h("v1," + b64Sig([]byte(whsec), msgID, ".", testNowTS, ".", testBody)), want: verify.ErrSignatureInvalid},
		{name: "whsec secret without its prefix", scheme: sw, secrets: secretsOf(base64.StdEncoding.EncodeToString(key)), header: h("v1," + good)},
		{name: "another message id", scheme: sw, secrets: ws,
			header: headers("webhook-id", "msg_other", "webhook-timestamp", testNowTS, "webhook-signature", "v1,"+good), want: verify.ErrSignatureInvalid},
		{name: "message id missing", scheme: sw, secrets: ws,
			header: headers("webhook-timestamp", testNowTS, "webhook-signature", "v1,"+good), want: verify.ErrSignatureMissing},
		{name: "timestamp header missing", scheme: sw, secrets: ws,
			header: headers("webhook-id", msgID, "webhook-signature", "v1,"+good), want: verify.ErrSignatureMissing},
		{name: "signature header missing", scheme: sw, secrets: ws,
			header: headers("webhook-id", msgID, "webhook-timestamp", testNowTS), want: verify.ErrSignatureMissing},
	})
}

func TestPrefix(t *testing.T) {
	gh := githubLike()
	good := hexSig(testSecret, testBody)
	bad := hexSig(otherSecret, testBody)
	h := func(v string) map[string]string { return headers("X-Hub-Signature-256", v) }
	runCases(t, []vcase{
		{name: "lower-case hex", scheme: gh, header: h("sha256=" + good)},
		{name: "upper-case hex", scheme: gh, header: h("sha256=" + strings.ToUpper(good))},
		{name: "mixed-case hex", scheme: gh, header: h("sha256=" + strings.ToUpper(good[:32]) + good[32:])},
		{name: "surrounding spaces", scheme: gh, header: h("  sha256=" + good + " ")},
		{name: "wrong key", scheme: gh, header: h("sha256=" + bad), want: verify.ErrSignatureInvalid},
		{name: "truncated", scheme: gh, header: h("sha256=" + good[:62]), want: verify.ErrSignatureInvalid},
		{name: "missing prefix", scheme: gh, header: h(good), want: verify.ErrSignatureMalformed},
		{name: "another prefix", scheme: gh, header: h("sha1=" + good), want: verify.ErrSignatureMalformed},
		{name: "prefix with another case", scheme: gh, header: h("SHA256=" + good), want: verify.ErrSignatureMalformed},
		{name: "prefix alone", scheme: gh, header: h("sha256="), want: verify.ErrSignatureMalformed},
		{name: "not hex", scheme: gh, header: h("sha256=" + strings.Repeat("g", 64)), want: verify.ErrSignatureMalformed},
		{name: "too long", scheme: gh, header: h("sha256=" + strings.Repeat(good, 3)), want: verify.ErrSignatureMalformed},
		{name: "empty header", scheme: gh, header: h(""), want: verify.ErrSignatureMissing},
		{name: "header missing", scheme: gh, want: verify.ErrSignatureMissing},
		{name: "body tampered", scheme: gh, header: h("sha256=" + good), body: `{"id":"evt_2","type":"thing.created"}`, want: verify.ErrSignatureInvalid},
	})
}

// Sign produces padded base64 (and Verify should accept it) for every
// algorithm; a 64-byte signature in padded base64 is 88 characters.
func TestAlgorithmsAndEncodings(t *testing.T) {
	algs := []struct {
		name string
		alg  plugsv1.SignatureScheme_Algorithm
		h    func() hash.Hash
	}{
		{"sha1", sha1Alg, sha1.New},
		{"sha256", sha256Alg, sha256.New},
		{"sha512", sha512Alg, sha512.New},
	}
	encs := []struct {
		name string
		enc  plugsv1.SignatureScheme_Encoding
		text func([]byte) string
	}{
		{"hex", hexEnc, hex.EncodeToString},
		{"HEX", hexEnc, func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }},
		{"base64", b64Enc, base64.StdEncoding.EncodeToString},
		{"base64 unpadded", b64Enc, base64.RawStdEncoding.EncodeToString},
		{"base64url", b64urlEnc, base64.URLEncoding.EncodeToString},
		{"base64url unpadded", b64urlEnc, base64.RawURLEncoding.EncodeToString},
	}
	var cases []vcase
	for _, a := range algs {
		for _, e := range encs {
			scheme := bodyOnly(a.alg, e.enc)
			sum := macOf(a.h, []byte(testSecret), testBody)
			name := a.name + "/" + e.name
			cases = append(cases,
				vcase{name: name + "/right", scheme: scheme, header: headers("X-Sig", e.text(sum))},
				vcase{name: name + "/wrong key", scheme: scheme, header: headers("X-Sig", e.text(macOf(a.h, []byte(otherSecret), testBody))), want: verify.ErrSignatureInvalid},
				vcase{name: name + "/tampered body", scheme: scheme, header: headers("X-Sig", e.text(sum)), body: testBody + "\n", want: verify.ErrSignatureInvalid},
			)
		}
	}
	// A right MAC under another algorithm does not verify.
	cases = append(cases,
		vcase{name: "sha256 sum under sha1", scheme: bodyOnly(sha1Alg, hexEnc), header: headers("X-Sig", hexSig(testSecret, testBody)), want: verify.ErrSignatureInvalid},
		vcase{name: "sha1 sum under sha256", scheme: bodyOnly(sha256Alg, hexEnc), header: headers("X-Sig", hex.EncodeToString(macOf(sha1.New, []byte(testSecret), testBody))), want: verify.ErrSignatureInvalid},
		vcase{name: "sha512 sum truncated to 32 bytes under sha256", scheme: bodyOnly(sha256Alg, hexEnc),
			header: headers("X-Sig", hex.EncodeToString(macOf(sha512.New, []byte(testSecret), testBody)[:32])), want: verify.ErrSignatureInvalid},
	)
	runCases(t, cases)
}

// A base64url scheme does not take standard base64's '+' and '/'; hex and
// base64 schemes reject each other's text.
func TestEncodingMismatch(t *testing.T) {
	// Find a body whose MAC has '+' or '/' in standard base64.
	var body, std string
	for i := range 1000 {
		body = fmt.Sprintf(`{"n":%d}`, i)
		std = base64.RawStdEncoding.EncodeToString(macOf(sha256.New, []byte(testSecret), body))
		if strings.ContainsAny(std, "+/") {
			break
		}
	}
	if !strings.ContainsAny(std, "+/") {
		t.Fatal("no MAC with + or / found")
	}
	runCases(t, []vcase{
		{name: "std base64 under base64url", scheme: bodyOnly(sha256Alg, b64urlEnc), header: headers("X-Sig", std), body: body, want: verify.ErrSignatureMalformed},
		{name: "std base64 under base64", scheme: bodyOnly(sha256Alg, b64Enc), header: headers("X-Sig", std), body: body},
		{name: "base64 under hex", scheme: bodyOnly(sha256Alg, hexEnc), header: headers("X-Sig", std), body: body, want: verify.ErrSignatureMalformed},
	})
}

func TestEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	scheme := func(enc plugsv1.SignatureScheme_Encoding) *plugsv1.SignatureScheme {
		return &plugsv1.SignatureScheme{
			Algorithm:      edAlg,
			Encoding:       enc,
			Header:         "X-Signature-Ed25519",
			SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kBody)),
			Timestamp:      &plugsv1.TimestampSource{Header: "X-Signature-Timestamp", Format: unixSeconds},
			SecretEncoding: hexSecret,
		}
	}
	pubHex, otherHex := hex.EncodeToString(pub), hex.EncodeToString(otherPub)
	msg := verify.Message{Method: http.MethodPost, URL: testURL, ContentType: jsonCT, Body: []byte(testBody)}
	cases := []struct {
		name    string
		enc     plugsv1.SignatureScheme_Encoding
		signer  ed25519.PrivateKey
		secrets []*plugsv1.SigningSecret
		tamper  bool
		at      time.Time
		want    error
	}{
		{name: "hex", enc: hexEnc, signer: priv, secrets: secretsOf(pubHex)},
		{name: "upper-case hex public key", enc: hexEnc, signer: priv, secrets: secretsOf(strings.ToUpper(pubHex))},
		{name: "base64url", enc: b64urlEnc, signer: priv, secrets: secretsOf(pubHex)},
		{name: "base64", enc: b64Enc, signer: priv, secrets: secretsOf(pubHex)},
		{name: "another key pair", enc: hexEnc, signer: otherPriv, secrets: secretsOf(pubHex), want: verify.ErrSignatureInvalid},
		{name: "rotation: second key signs", enc: hexEnc, signer: priv, secrets: secretsOf(otherHex, pubHex)},
		{name: "tampered body", enc: hexEnc, signer: priv, secrets: secretsOf(pubHex), tamper: true, want: verify.ErrSignatureInvalid},
		{name: "stale", enc: hexEnc, signer: priv, secrets: secretsOf(pubHex), at: testNow.Add(time.Hour), want: verify.ErrSignatureStale},
		{name: "public key of 31 bytes", enc: hexEnc, signer: priv, secrets: secretsOf(pubHex[:62]), want: verify.ErrSecretMissing},
		{name: "public key not hex", enc: hexEnc, signer: priv, secrets: secretsOf("zz" + pubHex[2:]), want: verify.ErrSecretMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := scheme(c.enc)
			signed, err := verify.SignEd25519(s, c.signer, msg, testNow)
			if err != nil {
				t.Fatal(err)
			}
			v := mustCompile(t, s, c.secrets)
			if c.want == verify.ErrSecretMissing && len(v.Problems()) == 0 {
				t.Errorf("Problems() is empty for a bad public key")
			}
			body := signed.Body
			if c.tamper {
				body = []byte(testBody + " ")
			}
			at := c.at
			if at.IsZero() {
				at = testNow
			}
			req := &verify.Request{Method: http.MethodPost, URL: testURL, Header: signed.Header, Body: payload.New(body, jsonCT)}
			wantErr(t, "Verify", v.Verify(req, verify.Options{Now: at}), c.want)
		})
	}
	t.Run("Sign refuses Ed25519", func(t *testing.T) {
		_, err := verify.Sign(scheme(hexEnc), testSecret, msg, testNow)
		wantErr(t, "Sign", err, verify.ErrCannotSign)
	})
	t.Run("SignEd25519 refuses HMAC", func(t *testing.T) {
		_, err := verify.SignEd25519(githubLike(), priv, msg, testNow)
		wantErr(t, "SignEd25519", err, verify.ErrCannotSign)
	})
}

func TestTokenAndBasicAuth(t *testing.T) {
	basic := func(cred string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) }
	runCases(t, []vcase{
		{name: "token/right", scheme: tokenScheme(), header: headers("X-Gitlab-Token", testSecret)},
		{name: "token/wrong", scheme: tokenScheme(), header: headers("X-Gitlab-Token", otherSecret), want: verify.ErrSignatureInvalid},
		{name: "token/prefix of the secret", scheme: tokenScheme(), header: headers("X-Gitlab-Token", testSecret[:5]), want: verify.ErrSignatureInvalid},
		{name: "token/missing", scheme: tokenScheme(), want: verify.ErrSignatureMissing},
		{name: "token/rotation second right", scheme: tokenScheme(), secrets: secretsOf(otherSecret, testSecret), header: headers("X-Gitlab-Token", testSecret)},
		{name: "token/expired", scheme: tokenScheme(),
			secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow.Add(-time.Minute)), {Id: "s2", Value: []byte(otherSecret)}},
			header:  headers("X-Gitlab-Token", testSecret), want: verify.ErrSignatureInvalid},
		{name: "token/all expired", scheme: tokenScheme(),
			secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow.Add(-time.Minute))},
			header:  headers("X-Gitlab-Token", testSecret), want: verify.ErrSecretMissing},
		{name: "basic/right", scheme: basicScheme(), secrets: secretsOf("user:pa:ss"), header: headers("Authorization", basic("user:pa:ss"))},
		{name: "basic/lower-case scheme word", scheme: basicScheme(), secrets: secretsOf("user:pass"),
			header: headers("Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte("user:pass")))},
		{name: "basic/wrong password", scheme: basicScheme(), secrets: secretsOf("user:pass"), header: headers("Authorization", basic("user:pasS")), want: verify.ErrSignatureInvalid},
		{name: "basic/rotation", scheme: basicScheme(), secrets: secretsOf("old:pw", "new:pw"), header: headers("Authorization", basic("new:pw"))},
		{name: "basic/missing", scheme: basicScheme(), secrets: secretsOf("user:pass"), want: verify.ErrSignatureMissing},
		{name: "basic/bearer", scheme: basicScheme(), secrets: secretsOf("user:pass"), header: headers("Authorization", "Bearer user:pass"), want: verify.ErrSignatureMalformed},
		{name: "basic/no credentials", scheme: basicScheme(), secrets: secretsOf("user:pass"), header: headers("Authorization", "Basic"), want: verify.ErrSignatureMalformed},
		{name: "basic/not base64", scheme: basicScheme(), secrets: secretsOf("user:pass"), header: headers("Authorization", "Basic !!!"), want: verify.ErrSignatureMalformed},
		{name: "basic/no colon", scheme: basicScheme(), secrets: secretsOf("userpass"), header: headers("Authorization", basic("userpass")), want: verify.ErrSignatureMalformed},
		{name: "basic/all expired", scheme: basicScheme(), secrets: []*plugsv1.SigningSecret{expiring("user:pass", testNow)},
			header: headers("Authorization", basic("user:pass")), want: verify.ErrSecretMissing},
	})
}

func TestSecrets(t *testing.T) {
	gh := githubLike()
	good := headers("X-Hub-Signature-256", "sha256="+hexSig(testSecret, testBody))
	runCases(t, []vcase{
		{name: "rotation: only the second is right", scheme: gh, secrets: secretsOf(otherSecret, testSecret), header: good},
		{name: "rotation: only the first is right", scheme: gh, secrets: secretsOf(testSecret, otherSecret), header: good},
		{name: "rotation: neither is right", scheme: gh, secrets: secretsOf(otherSecret, otherSecret+"2"), header: good, want: verify.ErrSignatureInvalid},
		{name: "right one expired, another active", scheme: gh,
			secrets: []*plugsv1.SigningSecret{{Id: "new", Value: []byte(otherSecret)}, expiring(testSecret, testNow.Add(-time.Second))},
			header:  good, want: verify.ErrSignatureInvalid},
		{name: "right one expires later", scheme: gh,
			secrets: []*plugsv1.SigningSecret{{Id: "new", Value: []byte(otherSecret)}, expiring(testSecret, testNow.Add(time.Second))},
			header:  good},
		{name: "expiring exactly now is expired", scheme: gh, secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow)},
			header: good, want: verify.ErrSecretMissing},
		{name: "all expired", scheme: gh,
			secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow.Add(-time.Hour)), expiring(otherSecret, testNow.Add(-time.Minute))},
			header:  good, want: verify.ErrSecretMissing},
		{name: "all expired, header missing too", scheme: gh, secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow.Add(-time.Hour))},
			want: verify.ErrSecretMissing},
		{name: "no secrets", scheme: gh, secrets: []*plugsv1.SigningSecret{}, header: good, want: verify.ErrSecretMissing},
		{name: "empty secret value", scheme: gh, secrets: secretsOf(""), header: good, want: verify.ErrSecretMissing},
	})

	t.Run("undecodable secrets are left out and named", func(t *testing.T) {
		s := standardLike()
		key := []byte("k3y-bytes")
		v := mustCompile(t, s, secretsOf("whsec_not*base64", "whsec_"+base64.StdEncoding.EncodeToString(key)))
		if p := v.Problems(); len(p) != 1 || !strings.Contains(p[0], "s1") {
			t.Errorf("Problems() = %q, want one naming s1", p)
		}
		req := newRequest(http.MethodPost, testURL, jsonCT,
			headers("webhook-id", "m", "webhook-timestamp", testNowTS, "webhook-signature", "v1,"+b64Sig(key, "m.", testNowTS, ".", testBody)), testBody)
		wantErr(t, "Verify", v.Verify(req, verify.Options{Now: testNow}), nil)

		v = mustCompile(t, s, secretsOf("whsec_not*base64"))
		wantErr(t, "Verify", v.Verify(req, verify.Options{Now: testNow}), verify.ErrSecretMissing)
	})
	t.Run("hex and base64 secret encodings", func(t *testing.T) {
		key := []byte{0, 1, 2, 0xfe, 0xff, 'k'}
		for _, c := range []struct {
			enc plugsv1.SignatureScheme_SecretEncoding
			val string
		}{
			{hexSecret, hex.EncodeToString(key)},
			{b64Secret, base64.StdEncoding.EncodeToString(key)},
			{whsecSecret, "whsec_" + base64.StdEncoding.EncodeToString(key)},
			{rawSecret, string(key)},
		} {
			s := githubLike()
			s.SecretEncoding = c.enc
			v := mustCompile(t, s, secretsOf(c.val))
			req := newRequest(http.MethodPost, testURL, jsonCT,
				headers("X-Hub-Signature-256", "sha256="+hex.EncodeToString(macOf(sha256.New, key, testBody))), testBody)
			if err := v.Verify(req, verify.Options{Now: testNow}); err != nil {
				t.Errorf("%v: %v", c.enc, err)
			}
		}
	})
}

func TestTimestamps(t *testing.T) {
	s := timestamped()
	at := func(when string) map[string]string {
		return headers("X-Ts", when, "X-Sig", hexSig(testSecret, when, ".", testBody))
	}
	old := unixText(testNow.Add(-301 * time.Second))
	ahead := unixText(testNow.Add(301 * time.Second))
	short := timestamped()
	short.Tolerance = durationpb.New(10 * time.Second)
	millis := timestamped()
	millis.Timestamp.Format = unixMillis
	rfc := timestamped()
	rfc.Timestamp.Format = rfc3339
	ms := strconv.FormatInt(testNow.UnixMilli(), 10)
	runCases(t, []vcase{
		{name: "fresh", scheme: s, header: at(testNowTS)},
		{name: "300s old, at the tolerance", scheme: s, header: at(unixText(testNow.Add(-300 * time.Second)))},
		{name: "300s ahead, at the tolerance", scheme: s, header: at(unixText(testNow.Add(300 * time.Second)))},
		{name: "301s old", scheme: s, header: at(old), want: verify.ErrSignatureStale},
		{name: "301s ahead", scheme: s, header: at(ahead), want: verify.ErrSignatureStale},
		{name: "a day old", scheme: s, header: at(unixText(testNow.Add(-24 * time.Hour))), want: verify.ErrSignatureStale},
		{name: "301s old, freshness skipped", scheme: s, header: at(old), fresh: true},
		{name: "301s ahead, freshness skipped", scheme: s, header: at(ahead), fresh: true},
		{name: "stale and wrong signature", scheme: s, header: headers("X-Ts", old, "X-Sig", hexSig(otherSecret, old, ".", testBody)), want: verify.ErrSignatureInvalid},
		{name: "stale, wrong signature, freshness skipped", scheme: s, header: headers("X-Ts", old, "X-Sig", hexSig(otherSecret, old, ".", testBody)), fresh: true, want: verify.ErrSignatureInvalid},
		{name: "signature over another timestamp", scheme: s, header: headers("X-Ts", testNowTS, "X-Sig", hexSig(testSecret, old, ".", testBody)), want: verify.ErrSignatureInvalid},
		{name: "timestamp header missing", scheme: s, header: headers("X-Sig", hexSig(testSecret, testNowTS, ".", testBody)), want: verify.ErrSignatureMissing},
		{name: "timestamp header blank", scheme: s, header: headers("X-Ts", "  ", "X-Sig", hexSig(testSecret, testNowTS, ".", testBody)), want: verify.ErrSignatureMissing},
		{name: "timestamp unparsable", scheme: s, header: at("yesterday"), want: verify.ErrSignatureMalformed},
		{name: "timestamp NaN", scheme: s, header: at("NaN"), want: verify.ErrSignatureMalformed},
		{name: "timestamp 1e300", scheme: s, header: at("1e300"), want: verify.ErrSignatureMalformed},
		{name: "fractional seconds", scheme: s, header: at(testNowTS + ".250")},
		{name: "padded with spaces, signed trimmed", scheme: s, header: headers("X-Ts", " "+testNowTS+" ", "X-Sig", hexSig(testSecret, testNowTS, ".", testBody))},
		{name: "signature header missing", scheme: s, header: headers("X-Ts", testNowTS), want: verify.ErrSignatureMissing},
		{name: "short tolerance: 10s old", scheme: short, header: at(unixText(testNow.Add(-10 * time.Second)))},
		{name: "short tolerance: 11s old", scheme: short, header: at(unixText(testNow.Add(-11 * time.Second))), want: verify.ErrSignatureStale},
		{name: "millis", scheme: millis, header: at(ms)},
		{name: "millis given seconds", scheme: millis, header: at(testNowTS), want: verify.ErrSignatureStale},
		{name: "millis not a number", scheme: millis, header: at(ms + ".5"), want: verify.ErrSignatureMalformed},
		{name: "rfc3339", scheme: rfc, header: at(testNow.Format(time.RFC3339))},
		{name: "rfc3339 with offset", scheme: rfc, header: at(testNow.In(time.FixedZone("X", 5*3600)).Format(time.RFC3339))},
		{name: "rfc3339 stale", scheme: rfc, header: at(testNow.Add(-time.Hour).Format(time.RFC3339)), want: verify.ErrSignatureStale},
		{name: "rfc3339 given seconds", scheme: rfc, header: at(testNowTS), want: verify.ErrSignatureMalformed},
	})
}

// Only the first 16 signatures of a header are tried.
func TestSignatureLimit(t *testing.T) {
	key := []byte("limit-key")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	swGood := b64Sig(key, "m.", testNowTS, ".", testBody)
	stGood := hexSig(testSecret, testNowTS, ".", testBody)
	list := func(wrong int) string {
		var items []string
		for i := range wrong {
			items = append(items, "v1,"+b64Sig(key, fmt.Sprintf("wrong %d", i)))
		}
		return strings.Join(append(items, "v1,"+swGood), " ")
	}
	structured := func(wrong int) string {
		items := []string{"t=" + testNowTS}
		for i := range wrong {
			items = append(items, "v1="+hexSig(testSecret, fmt.Sprintf("wrong %d", i)))
		}
		return strings.Join(append(items, "v1="+stGood), ",")
	}
	sw := func(v string) map[string]string {
		return headers("webhook-id", "m", "webhook-timestamp", testNowTS, "webhook-signature", v)
	}
	var cases []vcase
	for _, c := range []struct {
		wrong int
		want  error
	}{{0, nil}, {1, nil}, {15, nil}, {16, verify.ErrSignatureInvalid}, {17, verify.ErrSignatureInvalid}, {100, verify.ErrSignatureInvalid}} {
		cases = append(cases,
			vcase{name: fmt.Sprintf("list/right one after %d wrong", c.wrong), scheme: standardLike(), secrets: secretsOf(whsec),
				header: sw(list(c.wrong)), want: c.want},
			vcase{name: fmt.Sprintf("structured/right one after %d wrong", c.wrong), scheme: stripeLike(),
				header: headers("Stripe-Signature", structured(c.wrong)), want: c.want},
		)
	}
	runCases(t, cases)
}

func TestSignedParts(t *testing.T) {
	urlScheme := signedBy(signedPart(kURL))
	methodScheme := signedBy(signedPart(kMethod), signedPart(kLiteral, " "), signedPart(kBody))
	headerScheme := signedBy(signedPart(kHeader, "x-request-id"), signedPart(kLiteral, "|"), signedPart(kBody))
	formScheme := signedBy(signedPart(kURL), signedPart(kForm))
	everything := signedBy(signedPart(kMethod), signedPart(kLiteral, "\n"), signedPart(kURL), signedPart(kLiteral, "\n"),
		signedPart(kHeader, "X-Account"), signedPart(kLiteral, "\n"), signedPart(kBody))
	sig := func(msg ...string) map[string]string { return headers("X-Sig", hexSig(testSecret, msg...)) }
	with := func(m map[string]string, kv ...string) map[string]string {
		out := headers(kv...)
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	form := "b=2&a=1&b=3&c=%2Fx+y&d="
	sortedForm := "a1b2b3c/x yd"
	runCases(t, []vcase{
		{name: "url/same", scheme: urlScheme, header: sig(testURL)},
		{name: "url/another query", scheme: urlScheme, url: testURL + "&y=2", header: sig(testURL), want: verify.ErrSignatureInvalid},
		{name: "url/another scheme", scheme: urlScheme, url: strings.Replace(testURL, "https", "http", 1), header: sig(testURL), want: verify.ErrSignatureInvalid},
		{name: "url/body is not signed", scheme: urlScheme, body: `{"other":true}`, header: sig(testURL)},
		{name: "method/POST", scheme: methodScheme, header: sig("POST ", testBody)},
		{name: "method/PUT", scheme: methodScheme, method: http.MethodPut, header: sig("POST ", testBody), want: verify.ErrSignatureInvalid},
		{name: "header/same", scheme: headerScheme, header: with(sig("req-42|", testBody), "X-Request-Id", "req-42")},
		{name: "header/changed", scheme: headerScheme, header: with(sig("req-42|", testBody), "X-Request-Id", "req-43"), want: verify.ErrSignatureInvalid},
		{name: "header/absent signs empty", scheme: headerScheme, header: sig("|", testBody)},
		{name: "header/absent, signed with a value", scheme: headerScheme, header: sig("req-42|", testBody), want: verify.ErrSignatureInvalid},
		{name: "everything", scheme: everything, header: with(sig("POST\n", testURL, "\nacct_1\n", testBody), "X-Account", "acct_1")},
		{name: "everything/method changed", scheme: everything, method: http.MethodPatch,
			header: with(sig("POST\n", testURL, "\nacct_1\n", testBody), "X-Account", "acct_1"), want: verify.ErrSignatureInvalid},
		{name: "form/repeated keys sorted", scheme: formScheme, ct: formCT, body: form, header: sig(testURL, sortedForm)},
		{name: "form/keys reordered", scheme: formScheme, ct: formCT, body: "d=&c=%2Fx+y&a=1&b=2&b=3", header: sig(testURL, sortedForm)},
		{name: "form/charset in content type", scheme: formScheme, ct: formCT + "; charset=utf-8", body: form, header: sig(testURL, sortedForm)},
		{name: "form/repeated values in another order", scheme: formScheme, ct: formCT, body: "b=3&a=1&b=2&c=%2Fx+y&d=", header: sig(testURL, sortedForm)},
		{name: "form/repeated values signed unsorted", scheme: formScheme, ct: formCT, body: "b=3&a=1&b=2&c=%2Fx+y&d=", header: sig(testURL, "a1b3b2c/x yd"), want: verify.ErrSignatureInvalid},
		{name: "form/repeated value changed", scheme: formScheme, ct: formCT, body: "b=2&a=1&b=4&c=%2Fx+y&d=", header: sig(testURL, sortedForm), want: verify.ErrSignatureInvalid},
		{name: "form/signed in body order", scheme: formScheme, ct: formCT, body: form, header: sig(testURL, "b2a1b3c/x yd"), want: verify.ErrSignatureInvalid},
		{name: "form/field added", scheme: formScheme, ct: formCT, body: form + "&e=5", header: sig(testURL, sortedForm), want: verify.ErrSignatureInvalid},
		{name: "form/url changed", scheme: formScheme, ct: formCT, body: form, url: testURL + "&z=1", header: sig(testURL, sortedForm), want: verify.ErrSignatureInvalid},
		{name: "form/JSON body without body_hash_param is refused", scheme: formScheme, ct: jsonCT, body: testBody, header: sig(testURL), want: verify.ErrSignatureInvalid},
		{name: "form/bad escape", scheme: formScheme, ct: formCT, body: "a=%zz", header: sig(testURL, "a"), want: verify.ErrSignatureMalformed},
	})
}

// A Twilio-like scheme authenticates a body that is not a form through the
// hex SHA-256 in the signed URL's body_hash_param.
func TestBodyHashParam(t *testing.T) {
	scheme := signedBy(signedPart(kURL), signedPart(kForm))
	scheme.BodyHashParam = "bodySHA256"
	sum := sha256.Sum256([]byte(testBody))
	hashed := testURL + "&bodySHA256=" + hex.EncodeToString(sum[:])
	upper := testURL + "&bodySHA256=" + strings.ToUpper(hex.EncodeToString(sum[:]))
	sig := func(msg ...string) map[string]string { return headers("X-Sig", hexSig(testSecret, msg...)) }
	runCases(t, []vcase{
		{name: "JSON body with its hash", scheme: scheme, url: hashed, header: sig(hashed)},
		{name: "upper-case hash", scheme: scheme, url: upper, header: sig(upper)},
		{name: "JSON body changed", scheme: scheme, url: hashed, header: sig(hashed), body: testBody + " ", want: verify.ErrSignatureInvalid},
		{name: "hash changed in the URL", scheme: scheme, url: strings.Replace(hashed, "bodySHA256=", "bodySHA256=0", 1),
			header: sig(strings.Replace(hashed, "bodySHA256=", "bodySHA256=0", 1)), want: verify.ErrSignatureInvalid},
		{name: "URL without the hash", scheme: scheme, header: sig(testURL), want: verify.ErrSignatureMissing},
		{name: "URL signature wrong", scheme: scheme, url: hashed, header: sig(testURL), want: verify.ErrSignatureInvalid},
		{name: "form body needs no hash", scheme: scheme, ct: formCT, body: "a=1", header: sig(testURL, "a1")},
		{name: "hashed URL, body swapped for an empty form", scheme: scheme, url: hashed, header: sig(hashed), ct: formCT, body: "&",
			want: verify.ErrSignatureInvalid},
	})
	t.Run("hashed URL, body emptied", func(t *testing.T) {
		v := mustCompile(t, scheme, secretsOf(testSecret))
		req := newRequest(http.MethodPost, hashed, jsonCT, sig(hashed), "")
		wantErr(t, "Verify", v.Verify(req, verify.Options{Now: testNow}), verify.ErrSignatureInvalid)
	})
}

func TestBodyFields(t *testing.T) {
	mg := mailgunLike()
	body := func(tsJSON, token, sig string) string {
		fields := []string{}
		if tsJSON != "" {
			fields = append(fields, `"timestamp":`+tsJSON)
		}
		if token != "" {
			fields = append(fields, `"token":"`+token+`"`)
		}
		if sig != "" {
			fields = append(fields, `"signature":"`+sig+`"`)
		}
		return `{"signature":{` + strings.Join(fields, ",") + `},"event-data":{"event":"delivered","id":"ev1"}}`
	}
	token := "5a8b3f1e9c0d2e7f6a4b8c1d3e5f7a9b0c2d4e6f8a0b1c2d3e"
	good := hexSig(testSecret, testNowTS, token)
	oldTS := unixText(testNow.Add(-time.Hour))
	oldGood := hexSig(testSecret, oldTS, token)
	runCases(t, []vcase{
		{name: "mailgun/right", scheme: mg, body: body(`"`+testNowTS+`"`, token, good)},
		{name: "mailgun/timestamp as a number", scheme: mg, body: body(testNowTS, token, good)},
		{name: "mailgun/upper-case hex", scheme: mg, body: body(`"`+testNowTS+`"`, token, strings.ToUpper(good))},
		{name: "mailgun/unsigned part of the body changed", scheme: mg,
			body: strings.Replace(body(`"`+testNowTS+`"`, token, good), "delivered", "failed", 1)},
		{name: "mailgun/token changed", scheme: mg, body: body(`"`+testNowTS+`"`, token+"0", good), want: verify.ErrSignatureInvalid},
		{name: "mailgun/wrong key", scheme: mg, body: body(`"`+testNowTS+`"`, token, hexSig(otherSecret, testNowTS, token)), want: verify.ErrSignatureInvalid},
		{name: "mailgun/token missing", scheme: mg, body: body(`"`+testNowTS+`"`, "", good), want: verify.ErrSignatureMissing},
		{name: "mailgun/signature missing", scheme: mg, body: body(`"`+testNowTS+`"`, token, ""), want: verify.ErrSignatureMissing},
		{name: "mailgun/signature null", scheme: mg, body: strings.Replace(body(`"`+testNowTS+`"`, token, "X"), `"X"`, "null", 1), want: verify.ErrSignatureMissing},
		{name: "mailgun/signature not hex", scheme: mg, body: body(`"`+testNowTS+`"`, token, "not-hex"), want: verify.ErrSignatureMalformed},
		{name: "mailgun/body not JSON", scheme: mg, body: `signature=` + good, want: verify.ErrSignatureMissing},
		{name: "mailgun/stale", scheme: mg, body: body(`"`+oldTS+`"`, token, oldGood), want: verify.ErrSignatureStale},
		{name: "mailgun/stale, freshness skipped", scheme: mg, body: body(`"`+oldTS+`"`, token, oldGood), fresh: true},
		{name: "mailgun/timestamp missing", scheme: mg, body: body("", token, hexSig(testSecret, token)), want: verify.ErrSignatureMissing},
	})

	lin := linearLike()
	lbody := func(tsJSON string) string {
		return `{"action":"create","type":"Issue","data":{"id":"i1"},"webhookTimestamp":` + tsJSON + `}`
	}
	lin1 := func(tsJSON string) vcase {
		b := lbody(tsJSON)
		return vcase{scheme: lin, body: b, header: headers("Linear-Signature", hexSig(testSecret, b))}
	}
	named := func(c vcase, name string, want error, fresh bool) vcase {
		c.name, c.want, c.fresh = name, want, fresh
		return c
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).UnixMilli(), 10) }
	tampered := lin1(ms(0))
	tampered.body = lbody(ms(time.Second))
	noTS := vcase{scheme: lin, body: `{"action":"create"}`, header: headers("Linear-Signature", hexSig(testSecret, `{"action":"create"}`))}
	runCases(t, []vcase{
		named(lin1(ms(0)), "linear/fresh", nil, false),
		named(lin1(`"`+ms(0)+`"`), "linear/timestamp as a string", nil, false),
		named(lin1(ms(-59*time.Second)), "linear/59s old", nil, false),
		named(lin1(ms(-61*time.Second)), "linear/61s old", verify.ErrSignatureStale, false),
		named(lin1(ms(61*time.Second)), "linear/61s ahead", verify.ErrSignatureStale, false),
		named(lin1(ms(-time.Hour)), "linear/an hour old, freshness skipped", nil, true),
		named(lin1(testNowTS), "linear/seconds, not millis", verify.ErrSignatureStale, false),
		named(lin1(`"soon"`), "linear/timestamp not a number", verify.ErrSignatureMalformed, false),
		named(tampered, "linear/timestamp changed after signing", verify.ErrSignatureInvalid, false),
		named(noTS, "linear/timestamp missing", verify.ErrSignatureMalformed, false),
		named(noTS, "linear/timestamp missing, freshness skipped", nil, true),
	})
}

func TestCompileErrors(t *testing.T) {
	mod := func(f func(s *plugsv1.SignatureScheme)) *plugsv1.SignatureScheme {
		s := timestamped()
		f(s)
		return s
	}
	cases := []struct {
		name   string
		scheme *plugsv1.SignatureScheme
	}{
		{name: "no algorithm", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Algorithm = plugsv1.SignatureScheme_ALGORITHM_UNSPECIFIED })},
		{name: "unknown algorithm", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Algorithm = 99 })},
		{name: "no encoding", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Encoding = plugsv1.SignatureScheme_ENCODING_UNSPECIFIED })},
		{name: "Ed25519 without encoding", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.Algorithm, s.Encoding = edAlg, plugsv1.SignatureScheme_ENCODING_UNSPECIFIED
		})},
		{name: "no signature header or JSONPath", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Header = "" })},
		{name: "no signed parts", scheme: mod(func(s *plugsv1.SignatureScheme) { s.SignedParts = nil })},
		{name: "structured without item separator", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.Structured = &plugsv1.StructuredHeader{KeyValueSeparator: "=", SignatureKey: "v1", TimestampKey: "t"}
		})},
		{name: "structured without key/value separator", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.Structured = &plugsv1.StructuredHeader{ItemSeparator: ",", SignatureKey: "v1"}
		})},
		{name: "structured without signature key", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.Structured = &plugsv1.StructuredHeader{ItemSeparator: ",", KeyValueSeparator: "="}
		})},
		{name: "KIND_ID without id_header", scheme: mod(func(s *plugsv1.SignatureScheme) { s.SignedParts = signedParts(signedPart(kID), signedPart(kBody)) })},
		{name: "KIND_TIMESTAMP without timestamp", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Timestamp = nil })},
		{name: "KIND_HEADER without name", scheme: mod(func(s *plugsv1.SignatureScheme) { s.SignedParts = signedParts(signedPart(kHeader), signedPart(kBody)) })},
		{name: "KIND_UNSPECIFIED part", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.SignedParts = append(s.SignedParts, signedPart(plugsv1.SignedPart_KIND_UNSPECIFIED))
		})},
		{name: "KIND_BODY_FIELD with a bad JSONPath", scheme: mod(func(s *plugsv1.SignatureScheme) { s.SignedParts = signedParts(signedPart(kField, "$[")) })},
		{name: "bad signature_json_path", scheme: mod(func(s *plugsv1.SignatureScheme) { s.SignatureJsonPath = "$.a[" })},
		{name: "bad timestamp json_path", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Timestamp.JsonPath = "$..[" })},
		{name: "timestamp source says nowhere", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Timestamp.Header = "" })},
		{name: "structured timestamp source without timestamp key", scheme: mod(func(s *plugsv1.SignatureScheme) {
			s.Timestamp.Header = ""
			s.Structured = &plugsv1.StructuredHeader{ItemSeparator: ",", KeyValueSeparator: "=", SignatureKey: "v1"}
		})},
		{name: "zero tolerance", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Tolerance = durationpb.New(0) })},
		{name: "negative tolerance", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Tolerance = durationpb.New(-time.Second) })},
		{name: "invalid tolerance", scheme: mod(func(s *plugsv1.SignatureScheme) { s.Tolerance = &durationpb.Duration{Seconds: 1, Nanos: -1} })},
		{name: "token without token_header", scheme: &plugsv1.SignatureScheme{Algorithm: tokenAlg}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := verify.Compile(c.scheme, secretsOf(testSecret))
			if !errors.Is(err, verify.ErrInvalidScheme) {
				t.Fatalf("Compile: %v, want ErrInvalidScheme", err)
			}
			if v != nil {
				t.Errorf("Compile returned a verifier with an error")
			}
		})
	}

	// Schemes that must compile: the minimal forms of each kind.
	ok := map[string]*plugsv1.SignatureScheme{
		"stripe-like":   stripeLike(),
		"paddle-like":   paddleLike(),
		"standard-like": standardLike(),
		"github-like":   githubLike(),
		"twilio-like":   twilioLike(),
		"mailgun-like":  mailgunLike(),
		"linear-like":   linearLike(),
		"token":         tokenScheme(),
		"basic":         basicScheme(),
		"signature in body, no header": mod(func(s *plugsv1.SignatureScheme) {
			s.Header, s.SignatureJsonPath = "", "$.sig"
			s.SignedParts = signedParts(signedPart(kField, "$.data"))
		}),
	}
	for name, s := range ok {
		if _, err := verify.Compile(s, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Sign produces what Verify accepts, for every kind of scheme; a changed
// body then fails.
func TestSignRoundTrip(t *testing.T) {
	key := []byte("round-trip-key-0123456789")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	mgBody := `{"signature":{"timestamp":"0","token":"tok123"},"event-data":{"event":"opened"}}`
	linBody := `{"action":"update","webhookTimestamp":0}`
	withID := standardLike()
	bodyTS := &plugsv1.SignatureScheme{
		Algorithm:      sha256Alg,
		Encoding:       hexEnc,
		Header:         "X-Sig",
		SignedParts:    signedParts(signedPart(kTimestamp), signedPart(kLiteral, "."), signedPart(kBody)),
		Timestamp:      &plugsv1.TimestampSource{JsonPath: "$.ts", Format: unixSeconds},
		SecretEncoding: rawSecret,
	}
	twilioJSON := twilioLike()
	twilioJSON.BodyHashParam = "bodySHA256"
	tokenB64 := tokenScheme()
	tokenB64.SecretEncoding = b64Secret
	cases := []struct {
		name    string
		scheme  *plugsv1.SignatureScheme
		sec     string
		ct      string
		body    string
		header  http.Header
		tamper  func(b []byte) []byte
		mustSet []string // headers Sign must set
	}{
		{name: "stripe-like", scheme: stripeLike(), sec: testSecret, body: testBody, mustSet: []string{"Stripe-Signature"}},
		{name: "paddle-like", scheme: paddleLike(), sec: testSecret, body: testBody, mustSet: []string{"Paddle-Signature"}},
		{name: "standard-like", scheme: withID, sec: whsec, body: testBody, mustSet: []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}},
		{name: "standard-like with its own id", scheme: standardLike(), sec: whsec, body: testBody, header: http.Header{"Webhook-Id": {"msg_own"}}},
		{name: "github-like", scheme: githubLike(), sec: testSecret, body: testBody},
		{name: "timestamp header", scheme: timestamped(), sec: testSecret, body: testBody, mustSet: []string{"X-Ts"}},
		{name: "twilio-like", scheme: twilioLike(), sec: testSecret, ct: formCT, body: "To=%2B1555&From=%2B1666&Body=hi+there&Body=again"},
		{name: "twilio-like, JSON body through bodySHA256", scheme: twilioJSON, sec: testSecret, body: testBody},
		{name: "twilio-like, form body with bodySHA256 configured", scheme: twilioJSON, sec: testSecret, ct: formCT, body: "a=1&a=0&b=2"},
		{name: "mailgun-like", scheme: mailgunLike(), sec: testSecret, body: mgBody,
			tamper: func(b []byte) []byte { return []byte(strings.Replace(string(b), "tok123", "tok124", 1)) }},
		{name: "linear-like", scheme: linearLike(), sec: testSecret, body: linBody},
		{name: "sha1 hex", scheme: bodyOnly(sha1Alg, hexEnc), sec: testSecret, body: testBody},
		{name: "sha1 base64", scheme: bodyOnly(sha1Alg, b64Enc), sec: testSecret, body: testBody},
		{name: "sha512 hex", scheme: bodyOnly(sha512Alg, hexEnc), sec: testSecret, body: testBody},
		{name: "sha512 base64url", scheme: bodyOnly(sha512Alg, b64urlEnc), sec: testSecret, body: testBody},
		{name: "sha256 base64url", scheme: bodyOnly(sha256Alg, b64urlEnc), sec: testSecret, body: testBody},
		{name: "sha512 base64", scheme: bodyOnly(sha512Alg, b64Enc), sec: testSecret, body: testBody},
		{name: "method, url and header", scheme: signedBy(signedPart(kMethod), signedPart(kURL), signedPart(kHeader, "X-Account"), signedPart(kBody)),
			sec: testSecret, body: testBody, header: http.Header{"X-Account": {"acct_9"}}},
		{name: "KIND_TIMESTAMP with the timestamp in the body", scheme: bodyTS, sec: testSecret, body: `{"ts":0,"a":1}`},
		{name: "token", scheme: tokenScheme(), sec: testSecret, body: testBody, tamper: func(b []byte) []byte { return b }, mustSet: []string{"X-Gitlab-Token"}},
		{name: "token with a base64 secret", scheme: tokenB64, sec: base64.StdEncoding.EncodeToString([]byte("tok")), body: testBody,
			tamper: func(b []byte) []byte { return b }},
		{name: "basic", scheme: basicScheme(), sec: "user:pw", body: testBody, tamper: func(b []byte) []byte { return b }, mustSet: []string{"Authorization"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.ct
			if ct == "" {
				ct = jsonCT
			}
			m := verify.Message{Method: http.MethodPost, URL: testURL, ContentType: ct, Header: c.header, Body: []byte(c.body)}
			signed, err := verify.Sign(c.scheme, c.sec, m, testNow)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			for _, h := range c.mustSet {
				if signed.Header.Get(h) == "" {
					t.Errorf("Sign did not set %s", h)
				}
			}
			for k := range c.header {
				if signed.Header.Get(k) != c.header.Get(k) {
					t.Errorf("Sign changed the message's %s header to %q", k, signed.Header.Get(k))
				}
			}
			v := mustCompile(t, c.scheme, secretsOf(c.sec))
			req := &verify.Request{Method: http.MethodPost, URL: signed.URL, Header: signed.Header, Body: payload.New(signed.Body, ct)}
			wantErr(t, "Verify", v.Verify(req, verify.Options{Now: testNow}), nil)
			// An hour later it still verifies when freshness is skipped.
			wantErr(t, "Verify an hour later", v.Verify(&verify.Request{Method: http.MethodPost, URL: signed.URL, Header: signed.Header,
				Body: payload.New(signed.Body, ct)}, verify.Options{Now: testNow.Add(time.Hour), SkipFreshness: true}), nil)
			if c.tamper != nil && string(c.tamper(signed.Body)) == string(signed.Body) {
				return // the body is not authenticated (token, basic)
			}
			tampered := []byte(string(signed.Body) + " ")
			if c.tamper != nil {
				tampered = c.tamper(signed.Body)
			} else if ct == formCT {
				tampered = []byte(string(signed.Body) + "&x=1")
			}
			req = &verify.Request{Method: http.MethodPost, URL: signed.URL, Header: signed.Header, Body: payload.New(tampered, ct)}
			if err := v.Verify(req, verify.Options{Now: testNow}); err == nil {
				t.Errorf("a tampered body verified")
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	hs := func(kind plugsv1.SignatureScheme_Handshake, base *plugsv1.SignatureScheme) *plugsv1.SignatureScheme {
		base.Handshake = kind
		return base
	}
	slack := hs(plugsv1.SignatureScheme_HANDSHAKE_SLACK_URL_VERIFICATION, timestamped())
	zoom := hs(plugsv1.SignatureScheme_HANDSHAKE_ZOOM_URL_VALIDATION, timestamped())
	meta := hs(plugsv1.SignatureScheme_HANDSHAKE_META_HUB_CHALLENGE, githubLike())
	meta.VerifyToken = "my-verify-token"
	metaNoToken := hs(plugsv1.SignatureScheme_HANDSHAKE_META_HUB_CHALLENGE, githubLike())
	twitter := hs(plugsv1.SignatureScheme_HANDSHAKE_TWITTER_CRC, bodyOnly(sha256Alg, b64Enc))
	okta := hs(plugsv1.SignatureScheme_HANDSHAKE_OKTA_VERIFICATION, &plugsv1.SignatureScheme{Algorithm: tokenAlg, TokenHeader: "Authorization"})
	discord := hs(plugsv1.SignatureScheme_HANDSHAKE_DISCORD_PING, timestamped())
	none := githubLike()

	plain := "qgg8vlvZRS6UYooatFL8Aw"
	zoomBody := `{"payload":{"plainToken":"` + plain + `"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`
	zoomAnswer := func(key string) string {
		return `{"encryptedToken":"` + hex.EncodeToString(macOf(sha256.New, []byte(key), plain)) + `","plainToken":"` + plain + `"}`
	}
	twitterAnswer := func(key, token string) string {
		return `{"response_token":"sha256=` + base64.StdEncoding.EncodeToString(macOf(sha256.New, []byte(key), token)) + `"}`
	}
	metaQuery := "hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444"

	cases := []struct {
		name     string
		scheme   *plugsv1.SignatureScheme
		secrets  []*plugsv1.SigningSecret
		method   string
		query    string
		header   map[string]string
		body     string
		verified bool
		wantCT   string
		wantBody string // "": no answer
		want     error
	}{
		{name: "slack/verified", scheme: slack, body: `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			verified: true, wantCT: "application/json", wantBody: `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		{name: "slack/not verified", scheme: slack, body: `{"challenge":"c","type":"url_verification"}`},
		{name: "slack/an event, not a handshake", scheme: slack, body: `{"type":"event_callback","challenge":"c"}`, verified: true},
		{name: "slack/not JSON", scheme: slack, body: `type=url_verification`, verified: true},
		{name: "slack/GET", scheme: slack, method: http.MethodGet, query: "challenge=c"},
		{name: "zoom/verified", scheme: zoom, body: zoomBody, verified: true, wantCT: "application/json", wantBody: zoomAnswer(testSecret)},
		{name: "zoom/first active secret", scheme: zoom, secrets: []*plugsv1.SigningSecret{expiring(otherSecret, testNow.Add(-time.Minute)), {Id: "b", Value: []byte(testSecret)}, {Id: "c", Value: []byte("third")}},
			body: zoomBody, verified: true, wantCT: "application/json", wantBody: zoomAnswer(testSecret)},
		{name: "zoom/not verified", scheme: zoom, body: zoomBody},
		{name: "zoom/another event", scheme: zoom, body: strings.Replace(zoomBody, "endpoint.url_validation", "meeting.started", 1), verified: true},
		{name: "zoom/all secrets expired", scheme: zoom, secrets: []*plugsv1.SigningSecret{expiring(testSecret, testNow)}, body: zoomBody, verified: true, want: verify.ErrSecretMissing},
		{name: "meta/subscribe", scheme: meta, method: http.MethodGet, query: metaQuery, wantCT: "text/plain; charset=utf-8", wantBody: "1158201444"},
		{name: "meta/subscribe with no secrets", scheme: meta, secrets: []*plugsv1.SigningSecret{}, method: http.MethodGet, query: metaQuery,
			wantCT: "text/plain; charset=utf-8", wantBody: "1158201444"},
		{name: "meta/wrong verify token", scheme: meta, method: http.MethodGet, query: strings.Replace(metaQuery, "my-verify-token", "my-verify-tokeN", 1), want: verify.ErrSignatureInvalid},
		{name: "meta/verify token missing", scheme: meta, method: http.MethodGet, query: "hub.mode=subscribe&hub.challenge=1", want: verify.ErrSignatureMissing},
		{name: "meta/source has no verify token", scheme: metaNoToken, method: http.MethodGet, query: "hub.mode=subscribe&hub.verify_token=&hub.challenge=1", want: verify.ErrSecretMissing},
		{name: "meta/source has no verify token, request sends one", scheme: metaNoToken, method: http.MethodGet, query: metaQuery, want: verify.ErrSecretMissing},
		{name: "meta/not subscribe", scheme: meta, method: http.MethodGet, query: "hub.mode=unsubscribe&hub.verify_token=my-verify-token"},
		{name: "meta/query does not parse", scheme: meta, method: http.MethodGet, query: "hub.mode=subscribe;x=%zz", want: verify.ErrSignatureMalformed},
		{name: "meta/POST is an event", scheme: meta, query: metaQuery, verified: true},
		{name: "twitter/crc", scheme: twitter, method: http.MethodGet, query: "crc_token=abc%2Bdef", wantCT: "application/json", wantBody: twitterAnswer(testSecret, "abc+def")},
		{name: "twitter/crc with rotation uses the first", scheme: twitter, secrets: secretsOf(otherSecret, testSecret), method: http.MethodGet, query: "crc_token=t",
			wantCT: "application/json", wantBody: twitterAnswer(otherSecret, "t")},
		{name: "twitter/no crc_token", scheme: twitter, method: http.MethodGet, query: "x=1"},
		{name: "twitter/no secrets", scheme: twitter, secrets: []*plugsv1.SigningSecret{}, method: http.MethodGet, query: "crc_token=t", want: verify.ErrSecretMissing},
		{name: "twitter/POST is an event", scheme: twitter, query: "crc_token=t", verified: true},
		{name: "okta/verification", scheme: okta, method: http.MethodGet, header: headers("x-okta-verification-challenge", "chal-1"),
			wantCT: "application/json", wantBody: `{"verification":"chal-1"}`},
		{name: "okta/no challenge", scheme: okta, method: http.MethodGet},
		{name: "okta/POST is an event", scheme: okta, header: headers("x-okta-verification-challenge", "chal-1"), verified: true},
		{name: "discord/ping verified", scheme: discord, body: `{"type":1,"id":"i1","application_id":"a1"}`, verified: true,
			wantCT: "application/json", wantBody: `{"type":1}`},
		{name: "discord/ping not verified", scheme: discord, body: `{"type":1}`},
		{name: "discord/an interaction, not a ping", scheme: discord, body: `{"type":2}`, verified: true},
		{name: "discord/type as a string", scheme: discord, body: `{"type":"1"}`, verified: true},
		{name: "discord/GET", scheme: discord, method: http.MethodGet, query: "type=1"},
		{name: "none/GET", scheme: none, method: http.MethodGet, query: metaQuery, header: headers("x-okta-verification-challenge", "c")},
		{name: "none/POST", scheme: none, body: zoomBody, verified: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secrets := c.secrets
			if secrets == nil {
				secrets = secretsOf(testSecret)
			}
			method, body := c.method, c.body
			if method == "" {
				method = http.MethodPost
			}
			if body == "" {
				body = testBody
			}
			v := mustCompile(t, c.scheme, secrets)
			ans, err := v.Handshake(newRequest(method, testURL+"&"+c.query, jsonCT, c.header, body), c.query, c.verified, verify.Options{Now: testNow})
			wantErr(t, "Handshake", err, c.want)
			if c.want != nil {
				if ans != nil {
					t.Errorf("an answer with an error: %q", ans.Body)
				}
				return
			}
			if c.wantBody == "" {
				if ans != nil {
					t.Fatalf("answered %q, want no answer", ans.Body)
				}
				return
			}
			if ans == nil {
				t.Fatalf("no answer, want %s", c.wantBody)
			}
			if ans.ContentType != c.wantCT {
				t.Errorf("content type %q, want %q", ans.ContentType, c.wantCT)
			}
			if c.wantCT == "application/json" {
				var got, want map[string]any
				if err := json.Unmarshal(ans.Body, &got); err != nil {
					t.Fatalf("answer %q: %v", ans.Body, err)
				}
				if err := json.Unmarshal([]byte(c.wantBody), &want); err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("answer %v, want %v", got, want)
				}
			} else if string(ans.Body) != c.wantBody {
				t.Errorf("answer %q, want %q", ans.Body, c.wantBody)
			}
		})
	}
}

// One Verifier serves concurrent requests (pooled state and MACs).
func TestConcurrentVerify(t *testing.T) {
	v := mustCompile(t, stripeLike(), secretsOf(otherSecret, testSecret))
	good := "t=" + testNowTS + ",v1=" + hexSig(testSecret, testNowTS, ".", testBody)
	bad := "t=" + testNowTS + ",v1=" + hexSig(testSecret, testNowTS, ".", testBody+"x")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				valid := (g+i)%2 == 0
				h := good
				if !valid {
					h = bad
				}
				err := v.Verify(newRequest(http.MethodPost, testURL, jsonCT, headers("Stripe-Signature", h), testBody), verify.Options{Now: testNow})
				if valid && err != nil || !valid && !errors.Is(err, verify.ErrSignatureInvalid) {
					errs <- fmt.Errorf("goroutine %d, request %d (valid %v): %v", g, i, valid, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
