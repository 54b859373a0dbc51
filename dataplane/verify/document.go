package verify

import (
	"fmt"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// document builds what mapping reads once a token verified: nil to read
// the body as it is, or a new document (the token's claims, or the body)
// with the scheme's base64 and nested-token fields replaced by what they
// carry. Mapping JSONPaths then address the decoded values directly, for
// example $.message.data.subscriptionNotification.notificationType.
func (v *Verifier) document(req *Request, opts Options, claims any, payloadJSON []byte) (*payload.Doc, error) {
	j := v.jwt
	if len(j.decode) == 0 && len(j.decodeText) == 0 && len(j.nested) == 0 {
		if j.document == plugsv1.JwtScheme_DOCUMENT_CLAIMS {
			return payload.New(payloadJSON, "application/json"), nil
		}
		return nil, nil
	}
	data := claims
	if j.document != plugsv1.JwtScheme_DOCUMENT_CLAIMS {
		var err error
		if data, err = oj.Parse(req.Body.Raw()); err != nil {
			return nil, fmt.Errorf("%w: %w", payload.ErrUnparsable, err)
		}
	}
	var failed error
	for _, x := range j.decode {
		data = modify(x, data, func(s string) (any, error) {
			raw, err := base64Field(x, s)
			if err != nil {
				return nil, err
			}
			val, err := oj.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %s does not decode to JSON: %w", payload.ErrUnparsable, x, err)
			}
			return val, nil
		}, &failed)
	}
	for _, x := range j.decodeText {
		data = modify(x, data, func(s string) (any, error) {
			val, err := oj.ParseString(s)
			if err != nil {
				return nil, fmt.Errorf("%w: %s is not JSON text: %w", payload.ErrUnparsable, x, err)
			}
			return val, nil
		}, &failed)
	}
	for _, x := range j.nested {
		data = modify(x, data, func(s string) (any, error) {
			claims, _, err := v.verifyJWS(req, opts, s, nil)
			if err != nil {
				return nil, fmt.Errorf("nested token at %s: %w", x, err)
			}
			return claims, nil
		}, &failed)
	}
	if failed != nil {
		return nil, failed
	}
	return payload.New([]byte(oj.JSON(data)), "application/json"), nil
}

// modify replaces each string found at x with what replace makes of it;
// the first error is kept in failed.
func modify(x jp.Expr, data any, replace func(string) (any, error), failed *error) any {
	out, err := x.Modify(data, func(element any) (any, bool) {
		s, ok := element.(string)
		if !ok || *failed != nil {
			return element, false
		}
		val, err := replace(s)
		if err != nil {
			*failed = err
			return element, false
		}
		return val, true
	})
	if err != nil && *failed == nil {
		*failed = fmt.Errorf("%w: %s: %w", payload.ErrUnparsable, x, err)
	}
	return out
}

// base64Field decodes the base64 text found at x.
func base64Field(x jp.Expr, s string) ([]byte, error) {
	raw, err := decodeBase64Loose(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64: %w", payload.ErrUnparsable, x, err)
	}
	return raw, nil
}
