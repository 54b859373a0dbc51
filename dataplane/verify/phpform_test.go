package verify_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/dataplane/verify/verifytest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const kPHPForm = plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM

// phpFormHMAC signs the PHP-serialized form with HMAC-SHA1 in a header, so
// the text the builder writes is checked byte for byte.
func phpFormHMAC() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{Algorithm: sha1Alg, Encoding: hexEnc, Header: "X-Sig",
		SignedParts: signedParts(signedPart(kPHPForm, "sig")), SecretEncoding: rawSecret}
}

func sha1Hex(key, msg string) string {
	return hex.EncodeToString(macOf(sha1.New, []byte(key), msg))
}

// The serialized texts are written out by hand from PHP's serialize()
// format (php.net/manual/en/function.serialize.php): lengths in bytes,
// integer-like keys as i:.
func TestPHPSerializedFormPart(t *testing.T) {
	for _, c := range []struct {
		name, body, signed string
		want               error
	}{
		{name: "sorted, signature left out", body: "b=2&sig=ignored&a=1",
			signed: `a:2:{s:1:"a";s:1:"1";s:1:"b";s:1:"2";}`},
		{name: "escapes decoded, lengths in bytes", body: "name=J%C3%BCrgen+M&email=j%40x.io&empty=",
			signed: `a:3:{s:5:"email";s:6:"j@x.io";s:5:"empty";s:0:"";s:4:"name";s:9:"Jürgen M";}`},
		{name: "quotes are not escaped", body: `q=%22a%22%3Bs`,
			signed: `a:1:{s:1:"q";s:5:""a";s";}`},
		{name: "last of a repeated name", body: "a=1&a=2",
			signed: `a:1:{s:1:"a";s:1:"2";}`},
		{name: "integer keys", body: "10=x&9=y&-1=z&07=w&b=v",
			signed: `a:5:{i:-1;s:1:"z";s:2:"07";s:1:"w";i:9;s:1:"y";i:10;s:1:"x";s:1:"b";s:1:"v";}`},
		{name: "no fields", body: "sig=only", signed: `a:0:{}`},
		{name: "another order signed", body: "a=1&b=2",
			signed: `a:2:{s:1:"b";s:1:"2";s:1:"a";s:1:"1";}`, want: verify.ErrSignatureInvalid},
		{name: "a value changed", body: "a=1&b=3",
			signed: `a:2:{s:1:"a";s:1:"1";s:1:"b";s:1:"2";}`, want: verify.ErrSignatureInvalid},
		{name: "bad escape", body: "a=%zz", signed: `a:0:{}`, want: verify.ErrSignatureMalformed},
	} {
		runCases(t, []vcase{{name: c.name, scheme: phpFormHMAC(), ct: formCT, body: c.body,
			header: headers("X-Sig", sha1Hex(testSecret, c.signed)), want: c.want}})
	}
	runCases(t, []vcase{{name: "not a form", scheme: phpFormHMAC(), ct: jsonCT, body: `{"a":"1"}`,
		header: headers("X-Sig", sha1Hex(testSecret, `a:1:{s:1:"a";s:1:"1";}`)), want: verify.ErrSignatureInvalid}})
}

// A public-key signature carried in a form field of the body it signs, as
// Paddle Classic's p_signature is.
func TestPHPSerializedFormPublicKey(t *testing.T) {
	key, other := verifytest.RSAKey(t), verifytest.RSAKey(t)
	scheme := &plugsv1.SignatureScheme{
		Algorithm: plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, Encoding: b64Enc, SignatureJsonPath: "$.p_signature",
		SignedParts: signedParts(signedPart(kPHPForm, "p_signature")),
		PublicKey: &plugsv1.PublicKeyScheme{Algorithm: plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA1,
			Keys: &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_PEM}},
	}
	sign := func(k *rsa.PrivateKey, text string) string {
		d := sha1.Sum([]byte(text))
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	const signed = `a:2:{s:10:"alert_name";s:20:"subscription_created";s:8:"alert_id";s:3:"123";}`
	const sorted = `a:2:{s:8:"alert_id";s:3:"123";s:10:"alert_name";s:20:"subscription_created";}`
	body := "alert_name=subscription_created&alert_id=123&p_signature="
	secrets := secretsOf(verifytest.PublicPEM(t, &key.PublicKey))
	runCases(t, []vcase{
		{name: "valid", scheme: scheme, secrets: secrets, ct: formCT, body: body + sign(key, sorted)},
		{name: "unsorted text signed", scheme: scheme, secrets: secrets, ct: formCT, body: body + sign(key, signed), want: verify.ErrSignatureInvalid},
		{name: "another key", scheme: scheme, secrets: secrets, ct: formCT, body: body + sign(other, sorted), want: verify.ErrSignatureInvalid},
		{name: "field added", scheme: scheme, secrets: secrets, ct: formCT, body: "x=1&" + body + sign(key, sorted), want: verify.ErrSignatureInvalid},
		{name: "no signature", scheme: scheme, secrets: secrets, ct: formCT, body: "alert_name=subscription_created&alert_id=123", want: verify.ErrSignatureMissing},
	})
}
