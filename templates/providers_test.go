package templates_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// credential is one secret as a source holds it, and what signs with it.
type credential struct {
	secret string
	priv   ed25519.PrivateKey
}

func newCredential(t *testing.T, scheme *plugsv1.SignatureScheme) credential {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	if scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_ED25519 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if scheme.GetSecretEncoding() == plugsv1.SignatureScheme_SECRET_ENCODING_BASE64 {
			return credential{secret: base64.StdEncoding.EncodeToString(pub), priv: priv}
		}
		return credential{secret: hex.EncodeToString(pub), priv: priv}
	}
	switch scheme.GetSecretEncoding() {
	case plugsv1.SignatureScheme_SECRET_ENCODING_WHSEC_BASE64:
		return credential{secret: "whsec_" + base64.StdEncoding.EncodeToString(raw)}
	case plugsv1.SignatureScheme_SECRET_ENCODING_BASE64:
		return credential{secret: base64.StdEncoding.EncodeToString(raw)}
	case plugsv1.SignatureScheme_SECRET_ENCODING_HEX:
		return credential{secret: hex.EncodeToString(raw)}
	}
	if scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH {
		return credential{secret: "plugs:" + hex.EncodeToString(raw[:12])}
	}
	return credential{secret: hex.EncodeToString(raw)}
}

func sign(t *testing.T, scheme *plugsv1.SignatureScheme, c credential, m verify.Message, at time.Time) *verify.Signed {
	t.Helper()
	var s *verify.Signed
	var err error
	if c.priv != nil {
		s, err = verify.SignEd25519(scheme, c.priv, m, at)
	} else {
		s, err = verify.Sign(scheme, c.secret, m, at)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func check(t *testing.T, scheme *plugsv1.SignatureScheme, secrets []*plugsv1.SigningSecret, m verify.Message, s *verify.Signed, now time.Time) error {
	t.Helper()
	_, err := checked(t, scheme, secrets, m, s, now)
	return err
}

// checked verifies a signed request and returns what mapping reads of it:
// the body, or the document verification made of it.
func checked(t *testing.T, scheme *plugsv1.SignatureScheme, secrets []*plugsv1.SigningSecret, m verify.Message, s *verify.Signed, now time.Time) (*payload.Doc, error) {
	t.Helper()
	v, err := verify.Compile(scheme, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if p := v.Problems(); len(p) > 0 {
		t.Fatalf("secrets left out: %v", p)
	}
	url := m.URL
	if s.URL != "" {
		// The signer may have added query parameters (a signature or
		// token carried in the query, signed parameters).
		url = s.URL
	}
	req := &verify.Request{Method: m.Method, URL: url, Header: s.Header, Body: payload.New(s.Body, s.Header.Get("Content-Type"))}
	if err := v.Verify(req, verify.Options{Now: now}); err != nil {
		return nil, err
	}
	if req.Document != nil {
		return req.Document, nil
	}
	return req.Body, nil
}

// headerRefs lists the headers a template's mappings read, so a test
// request can carry them as a provider would.
func headerRefs(m *plugsv1.FieldMappings) []string {
	var hs []string
	for _, r := range []*plugsv1.ValueRef{m.GetEventId(), m.GetEventType(), m.GetCustomerId(), m.GetQuantity(), m.GetTimestamp()} {
		if h := r.GetHeader(); h != "" {
			hs = append(hs, h)
		}
	}
	for _, r := range m.GetProperties() {
		if h := r.GetHeader(); h != "" {
			hs = append(hs, h)
		}
	}
	return hs
}

// tamper changes the signed content of a signed request by one small edit.
func tamper(t *testing.T, scheme *plugsv1.SignatureScheme, s *verify.Signed) (*verify.Signed, bool) {
	t.Helper()
	out := &verify.Signed{Header: s.Header.Clone(), Body: s.Body, URL: s.URL}
	for _, p := range scheme.GetSignedParts() {
		switch p.GetKind() {
		case plugsv1.SignedPart_KIND_BODY:
			out.Body = append([]byte(string(s.Body)), ' ')
			return out, true
		case plugsv1.SignedPart_KIND_SORTED_FORM_PARAMS:
			out.Body = append([]byte(string(s.Body)), "&Extra=1"...)
			return out, true
		case plugsv1.SignedPart_KIND_BODY_FIELD:
			if payload.IsForm(s.Header.Get("Content-Type")) {
				form, err := url.ParseQuery(string(s.Body))
				if err != nil {
					t.Fatal(err)
				}
				name := strings.TrimPrefix(p.GetValue(), "$.")
				form.Set(name, form.Get(name)+"x")
				out.Body = []byte(form.Encode())
				return out, true
			}
			data, err := oj.Parse(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			x := jp.MustParseString(p.GetValue())
			targets := []any{data}
			if items := scheme.GetItemsJsonPath(); items != "" {
				// The path is relative to each separately signed item.
				targets = jp.MustParseString(items).Get(data)
			}
			for _, target := range targets {
				if err := x.Set(target, "tampered"); err != nil {
					t.Fatal(err)
				}
			}
			out.Body = []byte(oj.JSON(data))
			return out, true
		}
	}
	return nil, false
}

// removeSignature takes away what carries the signature or token.
func removeSignature(scheme *plugsv1.SignatureScheme, s *verify.Signed) *verify.Signed {
	out := &verify.Signed{Header: s.Header.Clone(), Body: s.Body, URL: s.URL}
	switch {
	case scheme.GetSignatureQueryParam() != "" || scheme.GetTokenQueryParam() != "":
		name := scheme.GetSignatureQueryParam() + scheme.GetTokenQueryParam()
		u, _ := url.Parse(s.URL)
		q := u.Query()
		q.Del(name)
		u.RawQuery = q.Encode()
		out.URL = u.String()
	case scheme.GetTokenJsonPath() != "":
		data, _ := oj.Parse(s.Body)
		_, _ = jp.MustParseString(scheme.GetTokenJsonPath()).Remove(data)
		out.Body = []byte(oj.JSON(data))
	case scheme.GetItemsJsonPath() != "":
		data, _ := oj.Parse(s.Body)
		for _, item := range jp.MustParseString(scheme.GetItemsJsonPath()).Get(data) {
			_, _ = jp.MustParseString(scheme.GetSignatureJsonPath()).Remove(item)
		}
		out.Body = []byte(oj.JSON(data))
	case scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		out.Header.Del(scheme.GetTokenHeader())
	case scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		out.Header.Del("Authorization")
	case scheme.GetSignatureJsonPath() != "" && payload.IsForm(s.Header.Get("Content-Type")):
		form, _ := url.ParseQuery(string(s.Body))
		form.Del(strings.TrimPrefix(scheme.GetSignatureJsonPath(), "$."))
		out.Body = []byte(form.Encode())
	case scheme.GetSignatureJsonPath() != "":
		data, _ := oj.Parse(s.Body)
		_, _ = jp.MustParseString(scheme.GetSignatureJsonPath()).Remove(data)
		out.Body = []byte(oj.JSON(data))
	default:
		out.Header.Del(scheme.GetHeader())
	}
	return out
}

// Every template: a signed sample verifies and maps; a tampered body, a
// wrong secret, a stale timestamp and a missing signature fail with the
// right error; a rotated-out secret works until it expires.
func TestEveryTemplate(t *testing.T) {
	catalog := templates.MustBuiltin()
	if n := len(catalog.IDs()); n < 30 {
		t.Fatalf("%d templates, want at least 30", n)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, id := range catalog.IDs() {
		t.Run(id, func(t *testing.T) {
			tpl, _ := catalog.Get(id)
			scheme := tpl.GetSignatureScheme()
			if len(tpl.GetReferences()) == 0 {
				t.Error("no reference to the provider's documentation")
			}
			if asymmetric(scheme) {
				t.Skip("signed with the provider's private key: TestKeyTemplates")
			}
			if tpl.GetSamplePayload() == "" {
				t.Fatal("no sample payload")
			}
			m := verify.Message{
				Method:      http.MethodPost,
				URL:         "https://hooks.example.com/v1/ingest/webhook/0192d1a0-0000-7000-8000-000000000001",
				ContentType: tpl.GetSampleContentType(),
				Header:      http.Header{},
				Body:        []byte(strings.TrimSpace(tpl.GetSamplePayload())),
			}
			for _, h := range headerRefs(tpl.GetFieldMappings()) {
				m.Header.Set(h, "hdr-"+strings.ToLower(h))
			}
			if h := tpl.GetFieldMappings().GetTimestamp().GetHeader(); h != "" {
				m.Header.Set(h, now.Format(time.RFC3339))
			}
			current, previous, stranger := newCredential(t, scheme), newCredential(t, scheme), newCredential(t, scheme)
			secrets := []*plugsv1.SigningSecret{{Id: "current", Value: []byte(current.secret)}}

			signed := sign(t, scheme, current, m, now)
			doc, err := checked(t, scheme, secrets, m, signed, now)
			if err != nil {
				t.Fatalf("valid request: %v", err)
			}
			t.Run("maps", func(t *testing.T) {
				mp, err := mapping.Compile(tpl.GetFieldMappings(), nil)
				if err != nil {
					t.Fatal(err)
				}
				in := mapping.Input{Body: doc, Header: signed.Header, ReceiveTime: now}
				ev, err := mapBody(t, mp, in)
				if err != nil {
					t.Fatalf("sample payload: %v", err)
				}
				if tpl.GetFieldMappings().GetEventId() != nil && ev.GetEventId() == "" {
					t.Errorf("no event id from the sample")
				}
			})
			t.Run("tampered", func(t *testing.T) {
				bad, ok := tamper(t, scheme, signed)
				if !ok {
					t.Skip("the scheme signs no content (token or basic credentials)")
				}
				if err := check(t, scheme, secrets, m, bad, now); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				if err := check(t, scheme, secrets, m, sign(t, scheme, stranger, m, now), now); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("stale", func(t *testing.T) {
				if scheme.GetTimestamp() == nil {
					t.Skip("the provider sends no timestamp")
				}
				age := 2 * time.Hour
				if d := scheme.GetTolerance(); d != nil && d.AsDuration() >= age {
					age = d.AsDuration() + time.Hour
				}
				old := sign(t, scheme, current, m, now.Add(-age))
				if err := check(t, scheme, secrets, m, old, now); !errors.Is(err, verify.ErrSignatureStale) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("missing signature", func(t *testing.T) {
				if err := check(t, scheme, secrets, m, removeSignature(scheme, signed), now); !errors.Is(err, verify.ErrSignatureMissing) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("no secret", func(t *testing.T) {
				if err := check(t, scheme, nil, m, signed, now); !errors.Is(err, verify.ErrSecretMissing) {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("rotated secret", func(t *testing.T) {
				byPrevious := sign(t, scheme, previous, m, now)
				rotated := []*plugsv1.SigningSecret{
					{Id: "current", Value: []byte(current.secret)},
					{Id: "previous", Value: []byte(previous.secret), ExpireTime: timestamppb.New(now.Add(time.Hour))},
				}
				if err := check(t, scheme, rotated, m, byPrevious, now); err != nil {
					t.Fatalf("previous secret before expiry: %v", err)
				}
				if err := check(t, scheme, rotated, m, signed, now); err != nil {
					t.Fatalf("current secret: %v", err)
				}
				rotated[1].ExpireTime = timestamppb.New(now.Add(-time.Second))
				if err := check(t, scheme, rotated, m, byPrevious, now); !errors.Is(err, verify.ErrSignatureInvalid) {
					t.Fatalf("previous secret after expiry: %v", err)
				}
			})
		})
	}
}
