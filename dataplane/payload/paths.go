package payload

import (
	"encoding/json"
	"fmt"

	"github.com/ohler55/ojg/jp"
)

// Paths is a set of JSONPaths compiled together, so that one pass over a raw
// JSON body finds every simple path of the set. A Paths is built once per
// configuration and is read-only afterwards, safe for concurrent lookups.
type Paths struct {
	texts []string
	exprs []jp.Expr
	// simple[i] is true when path i is only names and indexes and is found
	// by walking the raw bytes.
	simple  []bool
	root    node
	nSimple int
	// single[i] is a trie of path i alone, its value in slot 0.
	single []*node
}

// node is one step of the trie of simple paths.
type node struct {
	slots   []int // paths ending here
	keys    []keyEdge
	indexes []indexEdge
}

type keyEdge struct {
	key  string
	next *node
}

type indexEdge struct {
	index int
	next  *node
}

// Add compiles a path and returns its slot in lookup results. Adding the
// same text again returns the same slot.
func (ps *Paths) Add(text string) (int, error) {
	for i, t := range ps.texts {
		if t == text {
			return i, nil
		}
	}
	x, err := jp.ParseString(text)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrBadPath, text, err)
	}
	slot := len(ps.texts)
	ps.texts = append(ps.texts, text)
	ps.exprs = append(ps.exprs, x)
	steps, ok := simpleSteps(x)
	ps.simple = append(ps.simple, ok)
	ps.single = append(ps.single, nil)
	if ok {
		ps.nSimple++
		n, one := &ps.root, &node{}
		ps.single[slot] = one
		for _, s := range steps {
			n, one = n.child(s), one.child(s)
		}
		n.slots = append(n.slots, slot)
		one.slots = []int{0}
	}
	return slot, nil
}

// MustAdd is Add for paths known to be valid.
func (ps *Paths) MustAdd(text string) int {
	slot, err := ps.Add(text)
	if err != nil {
		panic(err)
	}
	return slot
}

// Len is the number of paths, the length Lookup's results must have.
func (ps *Paths) Len() int { return len(ps.texts) }

// Text returns the text of the path in slot.
func (ps *Paths) Text(slot int) string { return ps.texts[slot] }

type step struct {
	key   string
	index int // -1 for a key step
}

// simpleSteps returns the steps of x when it is a root followed only by
// child names and non-negative indexes.
func simpleSteps(x jp.Expr) ([]step, bool) {
	if len(x) == 0 {
		return nil, false
	}
	if _, ok := x[0].(jp.Root); !ok {
		return nil, false
	}
	var steps []step
	for _, f := range x[1:] {
		switch f := f.(type) {
		case jp.Bracket:
			// Notation only.
		case jp.Child:
			steps = append(steps, step{key: string(f), index: -1})
		case jp.Nth:
			if f < 0 {
				return nil, false
			}
			steps = append(steps, step{index: int(f)})
		default:
			return nil, false
		}
	}
	return steps, true
}

func (n *node) child(s step) *node {
	if s.index < 0 {
		for _, e := range n.keys {
			if e.key == s.key {
				return e.next
			}
		}
		c := &node{}
		n.keys = append(n.keys, keyEdge{key: s.key, next: c})
		return c
	}
	for _, e := range n.indexes {
		if e.index == s.index {
			return e.next
		}
	}
	c := &node{}
	n.indexes = append(n.indexes, indexEdge{index: s.index, next: c})
	return c
}

// Lookup fills out (of length Len) with the value of every path in d. A
// path that selects nothing leaves Missing. The same pass checks a JSON body
// strictly, so the error wraps ErrUnparsable when the body is not
// well-formed. When a key repeats in an object the first occurrence counts.
func (ps *Paths) Lookup(d *Doc, out []Value) error {
	clear(out)
	var err error
	if d.form {
		for i := range ps.exprs {
			if out[i], err = ps.lookupParsed(d, i); err != nil {
				return err
			}
		}
		return nil
	}
	sc := scanner{data: d.raw, out: out, remaining: ps.nSimple}
	err = sc.document(&ps.root)
	d.checked, d.checkErr = true, err
	if err != nil {
		return err
	}
	for i, simple := range ps.simple {
		if simple {
			continue
		}
		if out[i], err = ps.lookupParsed(d, i); err != nil {
			return err
		}
	}
	return nil
}

// Get looks up the path in slot alone.
func (ps *Paths) Get(d *Doc, slot int) (Value, error) {
	if d.form || !ps.simple[slot] {
		return ps.lookupParsed(d, slot)
	}
	var out [1]Value
	sc := scanner{data: d.raw, out: out[:], remaining: 1}
	err := sc.document(ps.single[slot])
	d.checked, d.checkErr = true, err
	return out[0], err
}

func (ps *Paths) lookupParsed(d *Doc, slot int) (Value, error) {
	data, err := d.Parsed()
	if err != nil {
		return Value{}, err
	}
	return parsedValue(ps.exprs[slot].FirstFound(data)), nil
}

// keyChild finds the edge for a quoted key as it appears in the body.
func (n *node) keyChild(quoted []byte, escaped bool) *node {
	inner, ok := unquote(quoted, escaped)
	if !ok {
		return nil
	}
	for _, e := range n.keys {
		if string(inner) == e.key {
			return e.next
		}
	}
	return nil
}

// keyIs reports whether a quoted key as it appears in the body is key.
func keyIs(quoted []byte, escaped bool, key string) bool {
	inner, ok := unquote(quoted, escaped)
	return ok && string(inner) == key
}

// unquote returns the contents of a quoted key, its escapes decoded.
func unquote(quoted []byte, escaped bool) ([]byte, bool) {
	if !escaped {
		return quoted[1 : len(quoted)-1], true
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

func (n *node) indexChild(idx int) *node {
	for _, e := range n.indexes {
		if e.index == idx {
			return e.next
		}
	}
	return nil
}
