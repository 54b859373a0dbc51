package verify

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// compileSources reads where a scheme finds its signature and signed values
// beyond a single header: alternative header names, the query string, a
// token in the body, separately signed items.
func (v *Verifier) compileSources(scheme *plugsv1.SignatureScheme) error {
	for i, a := range scheme.GetHeaderAlternatives() {
		if a.GetHeader() == "" || len(a.GetAlternatives()) == 0 {
			return fmt.Errorf("%w: header_alternatives[%d]: a header and at least one alternative", ErrInvalidScheme, i)
		}
		if v.alts == nil {
			v.alts = map[string][]string{}
		}
		name := canonical(a.GetHeader())
		for _, alt := range a.GetAlternatives() {
			if alt == "" {
				return fmt.Errorf("%w: header_alternatives[%d]: empty alternative", ErrInvalidScheme, i)
			}
			v.alts[name] = append(v.alts[name], canonical(alt))
		}
	}
	if v.header != "" {
		v.sigHeaders = append([]string{v.header}, v.alts[v.header]...)
	}
	v.sigQuery = scheme.GetSignatureQueryParam()
	v.tokenQuery = scheme.GetTokenQueryParam()
	if p := scheme.GetTokenJsonPath(); p != "" {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("%w: token_json_path: %w", ErrInvalidScheme, err)
		}
		v.tokenPath = x
	}
	if p := scheme.GetItemsJsonPath(); p != "" {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("%w: items_json_path: %w", ErrInvalidScheme, err)
		}
		v.items = x
	}
	return nil
}

// headerValue returns a request header, or when it is absent the first of
// its alternatives the request carries.
func (v *Verifier) headerValue(h http.Header, name string) string {
	if vals := h[name]; len(vals) > 0 && vals[0] != "" {
		return vals[0]
	}
	for _, alt := range v.alts[name] {
		if vals := h[alt]; len(vals) > 0 && vals[0] != "" {
			return vals[0]
		}
	}
	return ""
}

// QueryValue returns the first value of the query parameter name in
// rawURL (a full URL or a bare query) and whether it is present, reading
// the raw query without building a map; only an escaped key or value is
// unescaped (and so allocated).
func QueryValue(rawURL, name string) (string, bool, error) {
	q := rawURL
	if i := strings.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	} else if strings.Contains(q, "://") {
		return "", false, nil
	}
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				return "", false, fmt.Errorf("query parameter %q: %w", pair, err)
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(val, "%+") {
			var err error
			if val, err = url.QueryUnescape(val); err != nil {
				return "", false, fmt.Errorf("query parameter %s: %w", name, err)
			}
		}
		return val, true, nil
	}
	return "", false, nil
}

// appendValue appends a signed value as the part says: ASCII letters
// lowered when it asks, and a backslash before every backslash and every
// byte of its escape set, as Adyen escapes the fields it joins with ":".
func appendValue(buf []byte, text string, p part) []byte {
	if p.escape == "" && !p.lowercase {
		return append(buf, text...)
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if p.lowercase && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if p.escape != "" && (c == '\\' || strings.IndexByte(p.escape, c) >= 0) {
			buf = append(buf, '\\')
		}
		buf = append(buf, c)
	}
	return buf
}

// verifyTokenElsewhere checks a token carried in the query string or the
// body. In the body every value the path matches must equal an active
// secret: Microsoft Graph repeats clientState in each notification of a
// batch, and one forged notification must not ride along with a good one.
func (v *Verifier) verifyTokenElsewhere(req *Request, now time.Time) error {
	if v.tokenQuery != "" {
		got, _, err := QueryValue(req.URL, v.tokenQuery)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSignatureMalformed, err)
		}
		if got == "" {
			return fmt.Errorf("%w: query parameter %s", ErrSignatureMissing, v.tokenQuery)
		}
		return v.matchToken(got, now)
	}
	data, err := req.Body.Parsed()
	if err != nil {
		return fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
	}
	found := v.tokenPath.Get(data)
	if len(found) == 0 {
		return fmt.Errorf("%w: %s", ErrSignatureMissing, v.tokenPath.String())
	}
	for _, x := range found {
		got, ok := x.(string)
		if !ok || got == "" {
			return fmt.Errorf("%w: %s is not a string", ErrSignatureMalformed, v.tokenPath.String())
		}
		if err := v.matchToken(got, now); err != nil {
			return err
		}
	}
	return nil
}
