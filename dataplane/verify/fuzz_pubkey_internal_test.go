package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// TestAppleRootFingerprint checks the embedded root against the SHA-256
// fingerprint Apple publishes.
func TestAppleRootFingerprint(t *testing.T) {
	block, _ := pem.Decode(appleRootPEM)
	if block == nil {
		t.Fatal("no PEM")
	}
	sum := sha256.Sum256(block.Bytes)
	const want = "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179"
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || c.Subject.CommonName != "Apple Root CA - G3" {
		t.Fatalf("certificate %v: %v", c.Subject, err)
	}
}

// FuzzParseJWS feeds random tokens to the compact JWS parser: it must fail
// with ErrSignatureMalformed or ErrSignatureInvalid, or return parts that
// put back together give the token, and never panic.
func FuzzParseJWS(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJ4In0.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("eyJjcml0IjpbImV4cCJdfQ.e30.")
	f.Add("a.b.c.d")
	f.Add("..")
	f.Add("eyJ4NWMiOlsiQUFBQSJdfQ.e30.AA")
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := parseJWS(token)
		if err != nil {
			if !errors.Is(err, ErrSignatureMalformed) && !errors.Is(err, ErrSignatureInvalid) {
				t.Fatalf("error %v is not a verification failure", err)
			}
			return
		}
		rebuilt := string(tok.signingInput) + "." + base64.RawURLEncoding.EncodeToString(tok.sig)
		if rebuilt != token && !strings.HasPrefix(token, string(tok.signingInput)+".") {
			t.Fatalf("parts %q do not make up %q", rebuilt, token)
		}
	})
}

// FuzzParseJWKs feeds random key sets to the JWK parser: every key it
// returns is one verification supports, and it never panics.
func FuzzParseJWKs(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := k.PublicKey.Bytes()
	b := base64.RawURLEncoding.EncodeToString
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","kid":"1","x":"` + b(raw[1:33]) + `","y":"` + b(raw[33:]) + `"}]}`)
	f.Add(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`)
	f.Add(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"use":"enc"}]}`)
	f.Add(`{"keys":null}`)
	f.Fuzz(func(t *testing.T, set string) {
		keys, err := parseJWKs([]byte(set))
		if err != nil {
			return
		}
		for _, k := range keys {
			if _, err := checkKey(k.key); err != nil {
				t.Fatalf("parsed an unsupported key: %v", err)
			}
		}
	})
}

// FuzzParsePublicKey feeds random text to the PEM/DER and raw key parsers
// of every format.
func FuzzParsePublicKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	f.Add(base64.StdEncoding.EncodeToString(der))
	f.Add("-----BEGIN RSA PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----\n")
	f.Add("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	f.Add("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	f.Fuzz(func(t *testing.T, text string) {
		for f := range plugsv1.KeySource_Format_name {
			format := plugsv1.KeySource_Format(f)
			if format == plugsv1.KeySource_FORMAT_HMAC {
				continue
			}
			keys, err := parseKeys(format, []byte(text))
			if err != nil {
				continue
			}
			for _, k := range keys {
				if _, err := checkKey(k.key); err != nil {
					t.Fatalf("%v: parsed an unsupported key: %v", format, err)
				}
			}
		}
	})
}

// FuzzSNSStringToSign feeds random bodies to the SNS canonicalizer: it
// either fails as malformed or builds "Name\nvalue\n" lines of the signed
// fields in order, and never panics.
func FuzzSNSStringToSign(f *testing.F) {
	f.Add(`{"Type":"Notification","MessageId":"m","TopicArn":"arn","Message":"hi","Timestamp":"2026-01-01T00:00:00Z"}`)
	f.Add(`{"Type":"SubscriptionConfirmation","MessageId":"m","TopicArn":"arn","Message":"hi","Timestamp":"t","Token":"x","SubscribeURL":"https://sns"}`)
	f.Add(`{"Type":"Notification","Subject":null}`)
	f.Add(`[1,2]`)
	f.Add(`{"Type":"Notification","MessageId":"a\nb","TopicArn":"arn","Message":"","Timestamp":"t","Subject":"s"}`)
	f.Fuzz(func(t *testing.T, body string) {
		s, err := snsStringToSign(payload.New([]byte(body), "text/plain"))
		if err != nil {
			if !errors.Is(err, ErrSignatureMalformed) {
				t.Fatalf("error %v is not malformed", err)
			}
			return
		}
		if !strings.HasPrefix(string(s), "Message\n") || !strings.HasSuffix(string(s), "\n") || !strings.Contains(string(s), "\nType\n") {
			t.Fatalf("string to sign %q", s)
		}
	})
}

// FuzzAllowedURL feeds random certificate URLs to the allowlist: whatever
// it lets through is https on an SNS host under the allowed path.
func FuzzAllowedURL(f *testing.F) {
	p, err := parseURLPattern("https://sns.*.amazonaws.com/SimpleNotificationService-")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem")
	f.Add("https://sns.us-east-1.amazonaws.com.evil/SimpleNotificationService-abc.pem")
	f.Add("https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-abc.pem")
	f.Add("https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem")
	f.Add("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-%2e%2e/x")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := allowedURL(raw, []urlPattern{p}, true)
		if err != nil {
			return
		}
		if _, err := allowedURL(u, []urlPattern{p}, true); err != nil {
			t.Fatalf("%q allowed but its normal form %q is not: %v", raw, u, err)
		}
		if !strings.HasPrefix(u, "https://sns.") || !strings.Contains(u, ".amazonaws.com/SimpleNotificationService-") {
			t.Fatalf("%q allowed as %q", raw, u)
		}
	})
}
