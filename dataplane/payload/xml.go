package payload

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxXMLDepth bounds how deeply the elements of an XML document read by
// DecodeXML may nest, so a hostile document cannot exhaust the stack or
// build a tree out of proportion to the body.
const MaxXMLDepth = 64

// DecodeXML reads an XML document into the generic data JSONPath reads:
// {"<root>": value}, where the value of an element with child elements is
// an object of them (a repeated name gives a list, in document order; the
// element's attributes are "@name" keys) and the value of any other
// element is its text with surrounding white space trimmed (its attributes
// are dropped). Names are local names, without a namespace prefix. Every
// value is a string, so amounts keep their digits. Errors wrap
// ErrUnparsable.
//
// Only the five predefined entities are known; a document type
// declaration is ignored, and nothing is fetched.
func DecodeXML(data []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var root map[string]any
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: XML: %w", ErrUnparsable, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil {
				return nil, fmt.Errorf("%w: XML: more than one root element", ErrUnparsable)
			}
			val, err := readElement(d, t, 1)
			if err != nil {
				return nil, err
			}
			root = map[string]any{t.Name.Local: val}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: XML: text outside the root element", ErrUnparsable)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: XML: no root element", ErrUnparsable)
	}
	return root, nil
}

// readElement reads the content of start up to its end element.
func readElement(d *xml.Decoder, start xml.StartElement, depth int) (any, error) {
	if depth > MaxXMLDepth {
		return nil, fmt.Errorf("%w: XML: elements nested deeper than %d", ErrUnparsable, MaxXMLDepth)
	}
	var text strings.Builder
	var children map[string]any
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: XML: %w", ErrUnparsable, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			val, err := readElement(d, t, depth+1)
			if err != nil {
				return nil, err
			}
			if children == nil {
				children = map[string]any{}
				for _, a := range start.Attr {
					children["@"+a.Name.Local] = a.Value
				}
			}
			// An element's value is an object or text, never a list: a
			// list here is the one a repeated name made.
			name := t.Name.Local
			switch prev := children[name].(type) {
			case nil:
				children[name] = val
			case []any:
				children[name] = append(prev, val)
			default:
				children[name] = []any{prev, val}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if children != nil {
				return children, nil
			}
			return strings.TrimSpace(text.String()), nil
		}
	}
}
