package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// FuzzParseCertificates feeds random answers of a certificate URL to the
// certificate parser: it returns one to eight certificates or an error,
// and never panics.
func FuzzParseCertificates(f *testing.F) {
	f.Add(appleRootPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertificates(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || len(certs) > 8 {
			t.Fatalf("%d certificates", len(certs))
		}
		for _, c := range certs {
			if c == nil {
				t.Fatal("nil certificate")
			}
		}
	})
}

const fuzzJWTKey = "fuzz-jwt-hmac-key-0123456789abcdef"

var fuzzJWTNow = time.Unix(1767225600, 0)

// fuzzJWTScheme reads an HS256 token from a header, pins its issuer, checks
// a body hash claim and decodes base64 and JSON-text claims into the
// document mapping reads: every step of a token that parses what the
// sender controls.
func fuzzJWTScheme() *plugsv1.SignatureScheme {
	return &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_JWT, Jwt: &plugsv1.JwtScheme{
		Header: "Authorization", Prefix: "Bearer ", Algorithms: []string{"HS256"},
		Keys:    &plugsv1.KeySource{Kind: plugsv1.KeySource_KIND_SECRET, Format: plugsv1.KeySource_FORMAT_HMAC},
		Issuers: []string{"fuzz"}, BodyHashClaim: "payload_hash", BodyHash: plugsv1.JwtScheme_BODY_HASH_SHA256_HEX,
		Document: plugsv1.JwtScheme_DOCUMENT_CLAIMS, DecodeBase64JsonPaths: []string{"$.data"}, DecodeJsonTextPaths: []string{"$.text"},
	}}
}

func fuzzHS256(header, claims string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, []byte(fuzzJWTKey))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// FuzzVerifyJWT feeds random header and claims, signed with the source's
// key, and random bodies through token verification and the document it
// builds: the only errors are verification failures or an unparsable
// document, a token that passes makes a document that parses, and nothing
// panics.
func FuzzVerifyJWT(f *testing.F) {
	v, err := Compile(fuzzJWTScheme(), []*plugsv1.SigningSecret{{Id: "k", Value: []byte(fuzzJWTKey)}})
	if err != nil {
		f.Fatal(err)
	}
	body := `{"id":"evt_1"}`
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	good := `{"iss":"fuzz","iat":1767225600,"exp":1767229200,"payload_hash":"` + hash + `","data":"eyJhIjoxfQ==","text":"{\"b\":[1,2]}"}`
	// The first seed verifies, so the fuzzer starts from a token that
	// reaches every step.
	seed := &Request{Method: http.MethodPost, Header: http.Header{"Authorization": {"Bearer " + fuzzHS256(`{"alg":"HS256","typ":"JWT"}`, good)}},
		Body: payload.New([]byte(body), "application/json")}
	if err := v.Verify(seed, Options{Now: fuzzJWTNow}); err != nil || seed.Document == nil {
		f.Fatalf("seed token: %v", err)
	}
	f.Add(`{"alg":"HS256","typ":"JWT"}`, good, body)
	f.Add(`{"alg":"none"}`, good, body)
	f.Add(`{"alg":"HS256","crit":["x"]}`, good, body)
	f.Add(`{"alg":"HS256"}`, `{"iss":"fuzz","payload_hash":"`+hash+`","data":"not base64!","text":"{"}`, body)
	f.Add(`{"alg":"HS256"}`, `{"iss":"fuzz","payload_hash":"`+hash+`","data":["eyJhIjoxfQ=="],"exp":1e400}`, body)
	f.Add(`{"alg":"HS256"}`, `[1,2]`, "")
	f.Fuzz(func(t *testing.T, header, claims, body string) {
		req := &Request{Method: http.MethodPost, Header: http.Header{"Authorization": {"Bearer " + fuzzHS256(header, claims)}},
			Body: payload.New([]byte(body), "application/json")}
		err := v.Verify(req, Options{Now: fuzzJWTNow})
		if err != nil {
			for _, want := range []error{ErrSignatureMissing, ErrSignatureMalformed, ErrSignatureStale, ErrSignatureInvalid, payload.ErrUnparsable} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("error %v is not a verification failure", err)
		}
		if req.Document == nil {
			t.Fatal("a verified token made no document")
		}
		if _, err := req.Document.Parsed(); err != nil {
			t.Fatalf("the document does not parse: %v", err)
		}
	})
}
