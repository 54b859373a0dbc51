package payload

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/ohler55/ojg/oj"
)

// Kind is the JSON type of a value.
type Kind uint8

// Kinds of values. Missing means the path selected nothing.
const (
	Missing Kind = iota
	Null
	String
	Number
	Bool
	Object
	Array
)

// Value is one value read from a body: either a slice of the raw JSON bytes
// or a value of the parsed data. It is valid until the body is reused.
type Value struct {
	Kind Kind
	raw  []byte
	str  string // a string that is not a slice of raw JSON
	v    any    // other parsed values
}

// Present reports whether the path selected a value other than null.
func (v Value) Present() bool { return v.Kind != Missing && v.Kind != Null }

func rawValue(b []byte) Value {
	if len(b) == 0 {
		return Value{}
	}
	k := Number
	switch b[0] {
	case '"':
		k = String
	case '{':
		k = Object
	case '[':
		k = Array
	case 't', 'f':
		k = Bool
	case 'n':
		k = Null
	}
	return Value{Kind: k, raw: b}
}

func parsedValue(x any, found bool) Value {
	if !found {
		return Value{}
	}
	switch s := x.(type) {
	case nil:
		return Value{Kind: Null}
	case string:
		return Value{Kind: String, str: s}
	case bool:
		return Value{Kind: Bool, v: x}
	case int64, float64, json.Number, int:
		return Value{Kind: Number, v: x}
	case map[string]any:
		return Value{Kind: Object, v: x}
	case []any:
		return Value{Kind: Array, v: x}
	}
	return Value{Kind: String, str: oj.JSON(x)}
}

// Text returns the value as text: a string's contents, a number as written,
// "true" or "false", and objects and arrays as compact JSON. Missing and null
// values give "".
func (v Value) Text() string {
	if v.raw != nil {
		return v.rawText()
	}
	if v.Kind == String {
		return v.str
	}
	switch x := v.v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return string(x)
	default:
		return oj.JSON(x, &oj.Options{Sort: true})
	}
}

func (v Value) rawText() string {
	switch v.Kind {
	case Null, Missing:
		return ""
	case Bool:
		if v.raw[0] == 't' {
			return "true"
		}
		return "false"
	case String:
		inner := v.raw[1 : len(v.raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return string(inner)
		}
		var s string
		if err := json.Unmarshal(v.raw, &s); err != nil {
			return string(inner)
		}
		return s
	case Object, Array:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v.raw); err != nil {
			return string(v.raw)
		}
		return buf.String()
	}
	return string(v.raw)
}

// StringValue wraps text from outside the body (a header, a constant) as a
// string value.
func StringValue(s string) Value { return Value{Kind: String, str: s} }
