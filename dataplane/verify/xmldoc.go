package verify

import (
	"fmt"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// compileXMLPaths reads decode_base64_xml_paths: body fields that carry a
// base64 XML document (Braintree's bt_payload).
func (v *Verifier) compileXMLPaths(scheme *plugsv1.SignatureScheme) error {
	paths := scheme.GetDecodeBase64XmlPaths()
	if len(paths) == 0 {
		return nil
	}
	if v.alg == plugsv1.SignatureScheme_ALGORITHM_JWT {
		return fmt.Errorf("%w: decode_base64_xml_paths: a token scheme maps what its token says (jwt.document)", ErrInvalidScheme)
	}
	if v.items != nil {
		return fmt.Errorf("%w: decode_base64_xml_paths: not with items_json_path, whose items are mapped one by one", ErrInvalidScheme)
	}
	for i, p := range paths {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("%w: decode_base64_xml_paths[%d]: %w", ErrInvalidScheme, i, err)
		}
		v.xmlPaths = append(v.xmlPaths, x)
	}
	return nil
}

// xmlDocument is what mapping reads of a verified request whose scheme
// decodes base64 XML fields: the body (a form as an object of its fields)
// with each such field replaced by the tree of its XML.
func (v *Verifier) xmlDocument(req *Request) (*payload.Doc, error) {
	ct := "application/json"
	if req.Body.Form() {
		ct = "application/x-www-form-urlencoded"
	}
	// A fresh parse: the request's own parsed body stays as received.
	data, err := payload.New(req.Body.Raw(), ct).Parsed()
	if err != nil {
		return nil, err
	}
	var failed error
	for _, x := range v.xmlPaths {
		data = modify(x, data, func(s string) (any, error) {
			raw, err := base64Field(x, s)
			if err != nil {
				return nil, err
			}
			tree, err := payload.DecodeXML(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", x, err)
			}
			return tree, nil
		}, &failed)
	}
	if failed != nil {
		return nil, failed
	}
	return payload.New([]byte(oj.JSON(data, &oj.Options{Sort: true})), "application/json"), nil
}
