// Package payload reads values out of a webhook body without caring which
// provider sent it. A body is JSON or a form (application/x-www-form-urlencoded,
// read as an object of its fields). JSONPaths are compiled once per
// configuration into a Paths set; a lookup walks the raw JSON bytes once for
// every simple path of the set (child names and array indexes) without
// building a tree, and parses the body with ojg only when a path needs more
// (wildcards, filters, recursive descent) or the body is a form.
package payload

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/ohler55/ojg/oj"
)

// Doc is one request body being read. It is not safe for concurrent use.
type Doc struct {
	raw  []byte
	form bool

	checked  bool
	checkErr error

	parsed    any
	parsedErr error
	isParsed  bool
}

// New returns a Doc over body. contentType decides how it is read: a form
// content type reads it as a form, anything else as JSON (providers are not
// consistent about labelling JSON).
func New(body []byte, contentType string) *Doc {
	d := &Doc{}
	d.Reset(body, contentType)
	return d
}

// Reset points d at another body, so a Doc can be reused.
func (d *Doc) Reset(body []byte, contentType string) {
	*d = Doc{raw: body, form: IsForm(contentType)}
}

// IsForm reports whether contentType is a form encoding.
func IsForm(contentType string) bool {
	if contentType == "" {
		return false
	}
	const form = "application/x-www-form-urlencoded"
	if len(contentType) < len(form) || !strings.EqualFold(contentType[:len(form)], form) {
		return false
	}
	rest := strings.TrimLeft(contentType[len(form):], " \t")
	return rest == "" || rest[0] == ';'
}

// Raw returns the body bytes.
func (d *Doc) Raw() []byte { return d.raw }

// Form reports whether the body is read as a form.
func (d *Doc) Form() bool { return d.form }

// Check reports whether the body is well-formed, wrapping ErrUnparsable when
// it is not. The answer is computed once.
func (d *Doc) Check() error {
	if d.checked {
		return d.checkErr
	}
	d.checked = true
	if d.form {
		if _, err := d.Parsed(); err != nil {
			d.checkErr = err
		}
		return d.checkErr
	}
	sc := scanner{data: d.raw}
	d.checkErr = sc.document(nil)
	return d.checkErr
}

// Parsed returns the body as generic data: for JSON what ojg parses, for a
// form a map from field name to its value (a string, or a list of strings
// when the field repeats). It is parsed once.
func (d *Doc) Parsed() (any, error) {
	if d.isParsed {
		return d.parsed, d.parsedErr
	}
	d.isParsed = true
	if d.form {
		d.parsed, d.parsedErr = parseForm(d.raw)
		return d.parsed, d.parsedErr
	}
	if err := d.Check(); err != nil {
		d.parsedErr = err
		return nil, err
	}
	v, err := oj.Parse(d.raw)
	if err != nil {
		// The body passed the strict check, so it is JSON; ojg declines a
		// few valid spellings (such as the number 0e0). The standard
		// library reads those.
		if jerr := json.Unmarshal(d.raw, &v); jerr != nil {
			d.parsedErr = fmt.Errorf("%w: %w", ErrUnparsable, err)
			return nil, d.parsedErr
		}
	}
	d.parsed = v
	return v, nil
}

func parseForm(raw []byte) (map[string]any, error) {
	q, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnparsable, err)
	}
	m := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			m[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		m[k] = list
	}
	return m, nil
}
