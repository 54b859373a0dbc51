package payload

import "bytes"

// wholeArray selects every element of a top-level array.
var wholeArray = &Items{text: "$[*]", steps: []itemStep{{index: -1, wild: true}}}

// SplitLines returns the items of a newline-delimited JSON body (NDJSON,
// JSON Lines): each non-blank line is one item, or, when it holds an array,
// one item per element. A body that is one JSON document, over one line or
// several, is read as one line, so a sender that sends either a JSON array,
// one object or JSON lines is read alike. A line that is not well-formed
// is an item with Err set; the other lines are read all the same. At most
// limit items are returned (limit < 0: no limit); n counts them all. The
// items are slices of body.
func SplitLines(body []byte, limit int) (items []Item, n int) {
	add := func(it Item) {
		if limit < 0 || len(items) < limit {
			items = append(items, it)
		}
		n++
	}
	line := func(raw []byte) {
		raw = trimSpace(raw)
		if len(raw) == 0 {
			return
		}
		sc := scanner{data: raw}
		if err := sc.document(nil); err != nil {
			add(Item{Raw: raw, Err: err})
			return
		}
		if raw[0] != '[' {
			add(Item{Raw: raw})
			return
		}
		elems, _, _ := wholeArray.Split(raw, -1)
		for _, e := range elems {
			add(e)
		}
	}
	// One document: the common case of a sender that sent one array or one
	// object, and it costs a scan of the first line only when the body is
	// made of several.
	if sc := (scanner{data: body}); len(trimSpace(body)) > 0 && sc.document(nil) == nil {
		line(body)
		return items, n
	}
	for rest := body; len(rest) > 0; {
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest)
		}
		line(rest[:end])
		rest = rest[min(end+1, len(rest)):]
	}
	return items, n
}

// trimSpace cuts JSON white space from both ends of b.
func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i {
		switch b[j-1] {
		case ' ', '\t', '\r', '\n':
			j--
			continue
		}
		break
	}
	return b[i:j]
}
