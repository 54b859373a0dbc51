package payload

import (
	"fmt"

	"github.com/ohler55/ojg/jp"
)

// Item is one item of a batch body.
type Item struct {
	// Raw is the item's JSON, a slice of the body.
	Raw []byte
	// Err is set, wrapping ErrUnparsable, when the item is not well-formed
	// JSON: a bad line of a newline-delimited body. The items of a JSON
	// body never have one, since the whole body is checked.
	Err error
}

// Items is a compiled JSONPath that selects the items of a batch body, such
// as "$.events[*]" or "$.notificationItems[*].NotificationRequestItem". It
// may hold only names, indexes and wildcards, so that one pass over the raw
// bytes finds every item as a slice of the body, in document order, without
// building a tree. It is read-only once compiled and safe for concurrent
// use.
type Items struct {
	text  string
	steps []itemStep
}

// itemStep is one step of an items path: a member name, an array index,
// or a wildcard that takes every member of an object or element of an
// array.
type itemStep struct {
	key   string
	index int // -1 for a name or a wildcard
	wild  bool
}

// CompileItems compiles an items path. It fails, wrapping ErrBadPath, for a
// path that is not a JSONPath or that uses more than names, indexes and
// wildcards (filters, slices, unions, recursive descent).
func CompileItems(text string) (*Items, error) {
	x, err := jp.ParseString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadPath, text, err)
	}
	if len(x) == 0 {
		return nil, fmt.Errorf("%w: %q: empty", ErrBadPath, text)
	}
	if _, ok := x[0].(jp.Root); !ok {
		return nil, fmt.Errorf("%w: %q: must start at the root, $", ErrBadPath, text)
	}
	it := &Items{text: text}
	for _, f := range x[1:] {
		switch f := f.(type) {
		case jp.Bracket:
			// Notation only.
		case jp.Child:
			it.steps = append(it.steps, itemStep{key: string(f), index: -1})
		case jp.Nth:
			if f < 0 {
				return nil, fmt.Errorf("%w: %q: negative indexes are not supported in an items path", ErrBadPath, text)
			}
			it.steps = append(it.steps, itemStep{index: int(f)})
		case jp.Wildcard:
			it.steps = append(it.steps, itemStep{index: -1, wild: true})
		default:
			return nil, fmt.Errorf("%w: %q: an items path may hold only names, indexes and wildcards", ErrBadPath, text)
		}
	}
	return it, nil
}

// String returns the path as written.
func (it *Items) String() string { return it.text }

// Split checks that body is one well-formed JSON document and returns the
// raw bytes of every item the path selects, in document order: slices of
// body, not copies. At most limit items are returned (limit < 0: no
// limit); n counts them all, so a caller can say by how much a body is over
// its limit. The error wraps ErrUnparsable when body is not well-formed.
func (it *Items) Split(body []byte, limit int) (items []Item, n int, err error) {
	w := itemWalker{scanner: scanner{data: body}, steps: it.steps, limit: limit}
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil, 0, fmt.Errorf("%w: empty body", ErrUnparsable)
	}
	if i = w.walk(i, 0); i < 0 {
		return nil, 0, w.err
	}
	if i = skipSpace(body, i); i != len(body) {
		w.fail(i, "data after the JSON value")
		return nil, 0, w.err
	}
	return w.items, w.n, nil
}

// itemWalker is a scanner that follows the steps of an items path: below
// the path's last step it collects values; elsewhere it only checks them.
type itemWalker struct {
	scanner
	steps []itemStep
	limit int
	items []Item
	n     int
}

// walk scans the value at i, which the first depth steps led to, and
// returns the index just past it, or -1 on a syntax error.
func (w *itemWalker) walk(i, depth int) int {
	if depth == len(w.steps) {
		end := w.value(i, nil)
		if end >= 0 {
			if w.limit < 0 || len(w.items) < w.limit {
				w.items = append(w.items, Item{Raw: w.data[i:end]})
			}
			w.n++
		}
		return end
	}
	if i >= len(w.data) {
		return w.fail(i, "unexpected end")
	}
	switch w.data[i] {
	case '{':
		return w.object(i, depth)
	case '[':
		return w.array(i, depth)
	}
	// A scalar where the path goes on: nothing below it.
	return w.value(i, nil)
}

func (w *itemWalker) object(i, depth int) int {
	if w.depth++; w.depth > maxDepth {
		w.err = fmt.Errorf("%w: %w", ErrUnparsable, errDepth)
		return -1
	}
	defer func() { w.depth-- }()
	st := w.steps[depth]
	data := w.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	// A repeated key counts once, its first occurrence, as Lookup reads
	// it: a sender cannot hide a second set of items behind the first.
	taken := false
	for {
		if i >= len(data) || data[i] != '"' {
			return w.fail(i, "expected a member name")
		}
		ke, escaped := w.string(i)
		if ke < 0 {
			return -1
		}
		follow := st.wild
		if !follow && st.index < 0 && !taken {
			follow = keyIs(data[i:ke], escaped, st.key)
			taken = follow
		}
		i = skipSpace(data, ke)
		if i >= len(data) || data[i] != ':' {
			return w.fail(i, "expected ':'")
		}
		i = skipSpace(data, i+1)
		if follow {
			i = w.walk(i, depth+1)
		} else {
			i = w.value(i, nil)
		}
		if i = w.next(i, '}', "object"); i < 0 || data[i-1] == '}' {
			return i
		}
	}
}

func (w *itemWalker) array(i, depth int) int {
	if w.depth++; w.depth > maxDepth {
		w.err = fmt.Errorf("%w: %w", ErrUnparsable, errDepth)
		return -1
	}
	defer func() { w.depth-- }()
	st := w.steps[depth]
	data := w.data
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1
	}
	for idx := 0; ; idx++ {
		if st.wild || st.index == idx {
			i = w.walk(i, depth+1)
		} else {
			i = w.value(i, nil)
		}
		if i = w.next(i, ']', "array"); i < 0 || data[i-1] == ']' {
			return i
		}
	}
}

// next reads what follows a member or an element that ended at i (-1: a
// syntax error): a ',' and the space after it, or the closing byte of the
// container. It returns the index past them, or -1.
func (w *itemWalker) next(i int, closing byte, container string) int {
	if i < 0 {
		return -1
	}
	data := w.data
	i = skipSpace(data, i)
	if i >= len(data) {
		return w.fail(i, "unexpected end in "+container)
	}
	switch data[i] {
	case ',':
		return skipSpace(data, i+1)
	case closing:
		return i + 1
	}
	return w.fail(i, "expected ',' or '"+string(closing)+"'")
}
