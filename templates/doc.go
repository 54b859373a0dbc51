package templates

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// categoryTitles names the categories for people, in the order the
// catalogue document lists them.
var categoryTitles = []struct{ id, title string }{
	{"payments", "Payments and billing"},
	{"commerce", "Commerce"},
	{"communications", "Communications"},
	{"marketing", "Marketing"},
	{"crm", "CRM"},
	{"support", "Support"},
	{"identity", "Identity"},
	{"developer-tools", "Developer tools"},
	{"productivity", "Productivity"},
	{"ai", "AI"},
	{"generic", "Generic conventions"},
}

// ProvidersDoc renders docs/providers.md: every template of c by category,
// with how it authenticates a request and where the provider documents it.
// A test keeps the committed file equal to this output.
func ProvidersDoc(c *Catalog) []byte {
	var b bytes.Buffer
	b.WriteString("# Provider templates\n\n")
	b.WriteString("<!-- Generated from templates/providers by `go test ./templates -run TestProvidersDoc -update`; do not edit. -->\n\n")
	fmt.Fprintf(&b, "Plugs ships %d built-in templates. Create a source with `templateId` set to a template's id; ", len(c.ids))
	b.WriteString("`GET /v1/templates?category=…&search=…` lists them (see [api.md](api.md#templates)). ")
	b.WriteString("Each template file under `templates/providers/` says in its header what exactly is signed, and its caveats.\n")
	for _, cat := range categoryTitles {
		var rows []*plugsv1.Template
		for _, id := range c.ids {
			if t := c.byID[id]; t.GetCategory() == cat.id {
				rows = append(rows, t)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", cat.title)
		b.WriteString("| Template | Provider | Verification | Documentation |\n|---|---|---|---|\n")
		for _, t := range rows {
			doc := ""
			if refs := t.GetReferences(); len(refs) > 0 {
				doc = "[docs](" + refs[0] + ")"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", t.GetId(), cell(t.GetDisplayName()), cell(verification(t.GetSignatureScheme())), doc)
		}
	}
	return b.Bytes()
}

// verification says in a few words how a scheme authenticates a request.
func verification(s *plugsv1.SignatureScheme) string {
	where := "`" + s.GetHeader() + "`"
	for _, a := range s.GetHeaderAlternatives() {
		if a.GetHeader() == s.GetHeader() {
			where += " (or `" + strings.Join(a.GetAlternatives(), "`, `") + "`)"
		}
	}
	switch {
	case s.GetSignatureJsonPath() != "" && s.GetItemsJsonPath() != "":
		where = "body field `" + s.GetSignatureJsonPath() + "` of each item at `" + s.GetItemsJsonPath() + "`"
	case s.GetSignatureJsonPath() != "":
		where = "body field `" + s.GetSignatureJsonPath() + "`"
	case s.GetSignatureQueryParam() != "":
		where = "query parameter `" + s.GetSignatureQueryParam() + "`"
	}
	var out string
	switch s.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		out = "shared token in `" + s.GetTokenHeader() + "`"
		switch {
		case s.GetTokenQueryParam() != "":
			out = "shared token in query parameter `" + s.GetTokenQueryParam() + "`"
		case s.GetTokenJsonPath() != "":
			out = "shared token in body field `" + s.GetTokenJsonPath() + "`"
		}
		return out + handshakeNote(s)
	case plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		return "HTTP Basic credentials"
	case plugsv1.SignatureScheme_ALGORITHM_ED25519:
		out = "Ed25519 (" + encodingName(s.GetEncoding()) + ") in " + where
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY:
		out = publicKeyName(s.GetPublicKey()) + " (" + encodingName(s.GetEncoding()) + ") in " + where + ", " + keySourceName(s.GetPublicKey().GetKeys())
	case plugsv1.SignatureScheme_ALGORITHM_JWT:
		j := s.GetJwt()
		where = "`" + j.GetHeader() + "`"
		switch {
		case j.GetJsonPath() != "":
			where = "body field `" + j.GetJsonPath() + "`"
		case j.GetWholeBody():
			where = "the body"
		}
		out = "JWT (" + strings.Join(j.GetAlgorithms(), ", ") + ") in " + where + ", " + keySourceName(j.GetKeys())
		if j.GetBodyHashClaim() != "" {
			out += ", covering the body"
		}
	default:
		out = algorithmName(s.GetAlgorithm()) + " (" + encodingName(s.GetEncoding()) + ") in " + where
	}
	if ts := s.GetTimestamp(); ts != nil {
		tol := 300
		if d := s.GetTolerance(); d != nil {
			tol = int(d.AsDuration().Seconds())
		}
		out += ", timestamp within " + seconds(tol)
	}
	return out + handshakeNote(s)
}

func handshakeNote(s *plugsv1.SignatureScheme) string {
	switch {
	case verify.CapturesSecret(s):
		return ", takes its secret from the handshake"
	case s.GetHandshake() != plugsv1.SignatureScheme_HANDSHAKE_UNSPECIFIED || len(s.GetHandshakes()) > 0:
		return ", answers its handshake"
	}
	return ""
}

// publicKeyName names a public-key scheme's algorithm, or the algorithms
// the request may name.
func publicKeyName(p *plugsv1.PublicKeyScheme) string {
	names := map[plugsv1.PublicKeyScheme_Algorithm]string{
		plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA1:        "RSA SHA-1",
		plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256:      "RSA SHA-256",
		plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA512:      "RSA SHA-512",
		plugsv1.PublicKeyScheme_ALGORITHM_RSA_PSS_SHA256:        "RSA-PSS SHA-256",
		plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256:     "ECDSA P-256",
		plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256_RAW: "ECDSA P-256",
		plugsv1.PublicKeyScheme_ALGORITHM_ED25519:               "Ed25519",
	}
	if len(p.GetAlgorithmNames()) == 0 {
		return names[p.GetAlgorithm()]
	}
	var all []string
	for _, k := range slices.Sorted(maps.Keys(p.GetAlgorithmNames())) {
		if n := names[p.GetAlgorithmNames()[k]]; !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	return strings.Join(all, " or ")
}

// keySourceName says where the keys of a scheme come from.
func keySourceName(k *plugsv1.KeySource) string {
	switch k.GetKind() {
	case plugsv1.KeySource_KIND_CERTIFICATE_URL:
		where := "`" + k.GetUrlHeader() + "`"
		if k.GetUrlJsonPath() != "" {
			where = "`" + k.GetUrlJsonPath() + "`"
		}
		return "certificate from the URL in " + where + " (allowed hosts only)"
	case plugsv1.KeySource_KIND_JWKS:
		return "keys from " + k.GetUrl()
	case plugsv1.KeySource_KIND_X5C:
		if k.GetRoots() == plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3 {
			return "x5c chain to Apple Root CA - G3"
		}
		return "x5c chain to the system roots"
	case plugsv1.KeySource_KIND_KEY_ENDPOINT:
		return "key fetched by id from the provider's API"
	}
	if k.GetFormat() == plugsv1.KeySource_FORMAT_HMAC {
		return "HMAC key from the source"
	}
	return "public key from the source"
}

func algorithmName(a plugsv1.SignatureScheme_Algorithm) string {
	switch a {
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256:
		return "HMAC-SHA256"
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA1:
		return "HMAC-SHA1"
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA512:
		return "HMAC-SHA512"
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_MD5:
		return "HMAC-MD5"
	case plugsv1.SignatureScheme_ALGORITHM_SHA256:
		return "SHA-256 digest with the secret"
	case plugsv1.SignatureScheme_ALGORITHM_SHA1:
		return "SHA-1 digest with the secret"
	case plugsv1.SignatureScheme_ALGORITHM_SHA512:
		return "SHA-512 digest with the secret"
	}
	return a.String()
}

func encodingName(e plugsv1.SignatureScheme_Encoding) string {
	switch e {
	case plugsv1.SignatureScheme_ENCODING_HEX:
		return "hex"
	case plugsv1.SignatureScheme_ENCODING_BASE64:
		return "base64"
	case plugsv1.SignatureScheme_ENCODING_BASE64URL:
		return "base64url"
	}
	return e.String()
}

// seconds writes a tolerance the way people say it: 5 s, 3 min, 1 h.
func seconds(n int) string {
	switch {
	case n >= 3600 && n%3600 == 0:
		return fmt.Sprintf("%d h", n/3600)
	case n >= 60 && n%60 == 0:
		return fmt.Sprintf("%d min", n/60)
	}
	return fmt.Sprintf("%d s", n)
}

// cell keeps a value from breaking a Markdown table row.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
