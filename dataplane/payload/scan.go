package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// maxDepth bounds nesting so that a hostile body of a million "[" cannot
// grow the stack without limit.
const maxDepth = 512

var errDepth = errors.New("nesting deeper than 512")

// scanner validates JSON strictly (RFC 8259 grammar) in one pass and, along
// the way, records the values of the trie's paths. It never indexes past the
// end of data.
type scanner struct {
	data      []byte
	out       []Value
	remaining int
	depth     int
	err       error
}

func (s *scanner) fail(i int, what string) int {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s at offset %d", ErrUnparsable, what, i)
	}
	return -1
}

// document checks that data is exactly one JSON value, visiting n's paths.
func (s *scanner) document(n *node) error {
	i := skipSpace(s.data, 0)
	if i == len(s.data) {
		return fmt.Errorf("%w: empty body", ErrUnparsable)
	}
	i = s.value(i, n)
	if i < 0 {
		return s.err
	}
	if i = skipSpace(s.data, i); i != len(s.data) {
		s.fail(i, "data after the JSON value")
		return s.err
	}
	return nil
}

// value scans the value at i for trie node n (nil when no path goes below)
// and returns the index just past it, or -1 on a syntax error.
func (s *scanner) value(i int, n *node) int {
	if i >= len(s.data) {
		return s.fail(i, "unexpected end")
	}
	var end int
	switch c := s.data[i]; {
	case c == '{':
		end = s.object(i, n)
	case c == '[':
		end = s.array(i, n)
	case c == '"':
		end, _ = s.string(i)
	case c == '-' || (c >= '0' && c <= '9'):
		end = s.number(i)
	case c == 't':
		end = s.literal(i, "true")
	case c == 'f':
		end = s.literal(i, "false")
	case c == 'n':
		end = s.literal(i, "null")
	default:
		return s.fail(i, fmt.Sprintf("unexpected character %q", c))
	}
	if end < 0 || n == nil || len(n.slots) == 0 {
		return end
	}
	for _, slot := range n.slots {
		if s.out[slot].Kind == Missing {
			s.out[slot] = rawValue(s.data[i:end])
			s.remaining--
		}
	}
	return end
}

func (s *scanner) object(i int, n *node) int {
	if s.depth++; s.depth > maxDepth {
		s.err = fmt.Errorf("%w: %w", ErrUnparsable, errDepth)
		return -1
	}
	end := s.members(i, n)
	s.depth--
	return end
}

func (s *scanner) members(i int, n *node) int {
	data := s.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return s.fail(i, "expected a member name")
		}
		ke, escaped := s.string(i)
		if ke < 0 {
			return -1
		}
		var next *node
		if n != nil && len(n.keys) > 0 {
			next = n.keyChild(data[i:ke], escaped)
		}
		i = skipSpace(data, ke)
		if i >= len(data) || data[i] != ':' {
			return s.fail(i, "expected ':'")
		}
		if i = s.value(skipSpace(data, i+1), next); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return s.fail(i, "unexpected end in object")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1
		default:
			return s.fail(i, "expected ',' or '}'")
		}
	}
}

func (s *scanner) array(i int, n *node) int {
	if s.depth++; s.depth > maxDepth {
		s.err = fmt.Errorf("%w: %w", ErrUnparsable, errDepth)
		return -1
	}
	end := s.elements(i, n)
	s.depth--
	return end
}

func (s *scanner) elements(i int, n *node) int {
	data := s.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		var next *node
		if n != nil && len(n.indexes) > 0 {
			next = n.indexChild(idx)
		}
		if i = s.value(i, next); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return s.fail(i, "unexpected end in array")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1
		default:
			return s.fail(i, "expected ',' or ']'")
		}
	}
}

// string scans the string whose quote is at i and reports whether it holds
// escapes.
func (s *scanner) string(i int) (int, bool) {
	data := s.data
	escaped := false
	j := i + 1
	for {
		// Jump eight bytes at a time to the next quote, backslash or
		// control character: most of a body is plain string contents.
		for j+8 <= len(data) {
			if m := special8(binary.LittleEndian.Uint64(data[j:])); m != 0 {
				j += bits.TrailingZeros64(m) / 8
				break
			}
			j += 8
		}
		if j >= len(data) {
			break
		}
		c := data[j]
		switch {
		case c == '"':
			return j + 1, escaped
		case c < 0x20:
			return s.fail(j, "control character in string"), false
		case c == '\\':
			escaped = true
			if j+1 >= len(data) {
				return s.fail(j, "unexpected end in string"), false
			}
			switch data[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+5 >= len(data) || !isHex(data[j+2]) || !isHex(data[j+3]) || !isHex(data[j+4]) || !isHex(data[j+5]) {
					return s.fail(j, "invalid \\u escape"), false
				}
				j += 6
			default:
				return s.fail(j, "invalid escape"), false
			}
		default:
			j++
		}
	}
	return s.fail(len(data), "unterminated string"), false
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 marks the bytes of x (little-endian) that are a quote, a
// backslash or a control character, with the classic "has zero byte" and
// "has byte less than" bit tricks. Marks above the first may be false (a
// borrow carries upwards); the lowest mark is always exact, which is all
// string needs.
func special8(x uint64) uint64 {
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((quote-ones)&^quote | (backslash-ones)&^backslash | (x-ones*0x20)&^x) & highs
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) number(i int) int {
	data, j := s.data, i
	if data[j] == '-' {
		j++
	}
	switch {
	case j < len(data) && data[j] == '0':
		j++
	case j < len(data) && data[j] >= '1' && data[j] <= '9':
		j = digits(data, j)
	default:
		return s.fail(j, "invalid number")
	}
	if j < len(data) && data[j] == '.' {
		k := digits(data, j+1)
		if k == j+1 {
			return s.fail(k, "invalid number")
		}
		j = k
	}
	if j < len(data) && (data[j] == 'e' || data[j] == 'E') {
		j++
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		k := digits(data, j)
		if k == j {
			return s.fail(k, "invalid number")
		}
		j = k
	}
	return j
}

func digits(data []byte, j int) int {
	for j < len(data) && data[j] >= '0' && data[j] <= '9' {
		j++
	}
	return j
}

func (s *scanner) literal(i int, lit string) int {
	if len(s.data)-i < len(lit) || string(s.data[i:i+len(lit)]) != lit {
		return s.fail(i, "invalid literal")
	}
	return i + len(lit)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}
