package api

import (
	"testing"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Every built-in template must pass the same checks a source's own settings
// do, or a source created from it could not be saved.
func TestBuiltinTemplatesPassValidation(t *testing.T) {
	c := templates.MustBuiltin()
	if n := len(c.IDs()); n < 30 {
		t.Fatalf("%d templates, want at least 30", n)
	}
	for _, id := range c.IDs() {
		tpl, _ := c.Get(id)
		var v violations
		validateScheme(&v, "signature_scheme.", tpl.GetSignatureScheme())
		validateMappings(&v, "field_mappings.", tpl.GetFieldMappings())
		for _, fv := range v {
			t.Errorf("%s: %s: %s", id, fv.GetField(), fv.GetDescription())
		}
	}
}

func TestEventTypeEntries(t *testing.T) {
	for in, ok := range map[string]bool{
		"invoice.paid": true, "invoice.*": true, "*": true, "push": true,
		"": false, " ": false, "in voice": false, "a*b": false, "*.paid": false,
	} {
		var v violations
		validateFilter(&v, "f.", &plugsv1.EventFilter{EventTypes: []string{in}})
		if (len(v) == 0) != ok {
			t.Errorf("%q: violations %v, want ok=%v", in, v, ok)
		}
	}
}

// A custom source may use every new part of a scheme; what the fields
// cannot say alone the engine refuses, and the refusal is a field
// violation, never a source saved that data planes could not compile.
func TestCustomSchemes(t *testing.T) {
	body := []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}}
	hmac := func(change func(s *plugsv1.SignatureScheme)) *plugsv1.SignatureScheme {
		s := &plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256,
			Encoding: plugsv1.SignatureScheme_ENCODING_HEX, Header: "X-Sig", SignedParts: body}
		change(s)
		return s
	}
	echo := &plugsv1.HandshakeAnswer{Body: &plugsv1.HandshakeAnswer_Text{Text: &plugsv1.HandshakeValue{}}}
	for name, c := range map[string]struct {
		scheme *plugsv1.SignatureScheme
		ok     bool
	}{
		"query echo handshake": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Handshakes = []*plugsv1.HandshakeRule{{Method: "GET", Challenge: &plugsv1.HandshakeInput{From: &plugsv1.HandshakeInput_QueryParam{QueryParam: "challenge"}}, Answer: echo}}
		}), true},
		"echo without a challenge": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Handshakes = []*plugsv1.HandshakeRule{{Method: "GET", Answer: echo}}
		}), false},
		"signature in the query": {hmac(func(s *plugsv1.SignatureScheme) { s.Header, s.SignatureQueryParam = "", "sig" }), true},
		"token in the query":     {&plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_TOKEN, TokenQueryParam: "key"}, true},
		"token without a place":  {&plugsv1.SignatureScheme{Algorithm: plugsv1.SignatureScheme_ALGORITHM_TOKEN}, false},
		"leading timestamp": {hmac(func(s *plugsv1.SignatureScheme) {
			s.SignatureSeparator = ","
			s.Timestamp = &plugsv1.TimestampSource{Format: plugsv1.TimestampSource_FORMAT_UNIX_MILLIS, LeadingItem: true}
		}), true},
		"leading timestamp without a separator": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Timestamp = &plugsv1.TimestampSource{Format: plugsv1.TimestampSource_FORMAT_UNIX_MILLIS, LeadingItem: true}
		}), false},
		"digest without the secret": {hmac(func(s *plugsv1.SignatureScheme) { s.Algorithm = plugsv1.SignatureScheme_ALGORITHM_SHA256 }), false},
		"digest with the secret": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Algorithm = plugsv1.SignatureScheme_ALGORITHM_SHA256
			s.SignedParts = append(s.SignedParts, &plugsv1.SignedPart{Kind: plugsv1.SignedPart_KIND_SECRET})
		}), true},
		"query part without a name": {hmac(func(s *plugsv1.SignatureScheme) {
			s.SignedParts = append(s.SignedParts, &plugsv1.SignedPart{Kind: plugsv1.SignedPart_KIND_QUERY_PARAM})
		}), false},
		"PHP-serialized form, signature in a header": {hmac(func(s *plugsv1.SignatureScheme) {
			s.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM}}
		}), true},
		"PHP-serialized form, signature in the form": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Header, s.SignatureJsonPath = "", "$.sig"
			s.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM, Value: "sig"}}
		}), true},
		"PHP-serialized form signing its own signature": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Header, s.SignatureJsonPath = "", "$.sig"
			s.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM}}
		}), false},
		"labelled signatures of base64 XML": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Header, s.SignatureJsonPath, s.SignatureSeparator, s.SignatureLabelSeparator = "", "$.bt_signature", "&", "|"
			s.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY_FIELD, Value: "$.bt_payload"}}
			s.SecretEncoding = plugsv1.SignatureScheme_SECRET_ENCODING_SHA1_DIGEST
			s.DecodeBase64XmlPaths = []string{"$.bt_payload"}
		}), true},
		"label separator splitting the list": {hmac(func(s *plugsv1.SignatureScheme) {
			s.SignatureSeparator, s.SignatureLabelSeparator = "&", "&"
		}), false},
		"bad XML path": {hmac(func(s *plugsv1.SignatureScheme) { s.DecodeBase64XmlPaths = []string{"$.["} }), false},
		"XML with separately signed items": {hmac(func(s *plugsv1.SignatureScheme) {
			s.Header, s.SignatureJsonPath, s.ItemsJsonPath = "", "$.sig", "$.items[*]"
			s.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY_FIELD, Value: "$.data"}}
			s.DecodeBase64XmlPaths = []string{"$.data"}
		}), false},
		"bad alternative header": {hmac(func(s *plugsv1.SignatureScheme) {
			s.HeaderAlternatives = []*plugsv1.HeaderAlternatives{{Header: "X-Sig", Alternatives: []string{"bad header"}}}
		}), false},
	} {
		var v violations
		validateScheme(&v, "signature_scheme.", c.scheme)
		if (len(v) == 0) != c.ok {
			t.Errorf("%s: violations %v, want ok=%v", name, v, c.ok)
		}
	}
}
