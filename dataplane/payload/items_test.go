package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func itemTexts(items []Item) []string {
	var out []string
	for _, it := range items {
		s := string(it.Raw)
		if it.Err != nil {
			s = "!" + s
		}
		out = append(out, s)
	}
	return out
}

func TestItemsSplit(t *testing.T) {
	for _, tc := range []struct {
		path, body string
		want       []string
	}{
		{"$.events[*]", `{"meta":{"id":"w"},"events":[{"id":1},{"id":2}, {"id":3} ]}`, []string{`{"id":1}`, `{"id":2}`, `{"id":3}`}},
		{"$[*]", ` [ {"a":1} , "x", 3, null ] `, []string{`{"a":1}`, `"x"`, `3`, `null`}},
		{"$.notificationItems[*].NotificationRequestItem",
			`{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"A"}},{"Other":1},{"NotificationRequestItem":{"pspReference":"B"}}]}`,
			[]string{`{"pspReference":"A"}`, `{"pspReference":"B"}`}},
		{"$.*[*]", `{"transactions":[{"t":1},{"t":2}],"cardactions":[{"c":1}],"x":5}`, []string{`{"t":1}`, `{"t":2}`, `{"c":1}`}},
		{"$.data[1]", `{"data":[1,2,3]}`, []string{`2`}},
		{"$['we\"ird'][*]", `{"we\"ird":[1]}`, []string{`1`}},
		// The first occurrence of a repeated key counts, as for Lookup.
		{"$.events[*]", `{"events":[1],"events":[2,3]}`, []string{`1`}},
		// An escaped key is the same key.
		{"$.events[*]", `{"\u0065vents":[1]}`, []string{`1`}},
		{"$.events[*]", `{"events":[]}`, nil},
		{"$.events[*]", `{"other":[1]}`, nil},
		{"$.events[*]", `{"events":"not a list"}`, nil},
		{"$.events[*]", `[1,2]`, nil},
	} {
		it, err := CompileItems(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		items, n, err := it.Split([]byte(tc.body), -1)
		if err != nil {
			t.Fatalf("%s on %s: %v", tc.path, tc.body, err)
		}
		if got := itemTexts(items); strings.Join(got, "|") != strings.Join(tc.want, "|") || n != len(tc.want) {
			t.Errorf("%s on %s: got %q (n %d), want %q", tc.path, tc.body, got, n, tc.want)
		}
	}
}

func TestItemsSplitLimit(t *testing.T) {
	it, _ := CompileItems("$[*]")
	items, n, err := it.Split([]byte(`[1,2,3,4,5]`), 2)
	if err != nil || n != 5 || len(items) != 2 || string(items[1].Raw) != "2" {
		t.Fatalf("got %q, n %d, err %v", itemTexts(items), n, err)
	}
}

func TestItemsSplitRejects(t *testing.T) {
	it, _ := CompileItems("$.events[*]")
	for _, body := range []string{``, `  `, `{"events":[1,]}`, `{"events":[1]} x`, `{"events":[{"a":}]}`, `{"other":[1,}`, strings.Repeat("[", 600) + strings.Repeat("]", 600)} {
		if _, _, err := it.Split([]byte(body), -1); !errors.Is(err, ErrUnparsable) {
			t.Errorf("%q: got %v, want ErrUnparsable", body, err)
		}
	}
}

func TestCompileItems(t *testing.T) {
	for _, bad := range []string{"", "events", "$..id", "$.a[?(@.x)]", "$.a[0:2]", "$.a[-1]", "@.a[*]", "$.a[1,2]"} {
		if _, err := CompileItems(bad); !errors.Is(err, ErrBadPath) {
			t.Errorf("%q: got %v, want ErrBadPath", bad, err)
		}
	}
}

func TestSplitLines(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"lines", "{\"a\":1}\n{\"a\":2}\r\n\n  {\"a\":3}  \n", []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}},
		{"array", `[{"a":1},{"a":2}]`, []string{`{"a":1}`, `{"a":2}`}},
		{"pretty array", "[\n  {\"a\": 1},\n  {\"a\": 2}\n]\n", []string{`{"a": 1}`, `{"a": 2}`}},
		{"one object", "{\n \"a\": 1\n}", []string{"{\n \"a\": 1\n}"}},
		{"array lines", "[1,2]\n[3]\n4", []string{`1`, `2`, `3`, `4`}},
		{"bad line", "{\"a\":1}\n{\"a\":\n{\"a\":3}", []string{`{"a":1}`, `!{"a":`, `{"a":3}`}},
		{"empty", " \n\r\n ", nil},
		{"no newline at end", `{"a":1}` + "\n" + `{"a":2}`, []string{`{"a":1}`, `{"a":2}`}},
	} {
		items, n := SplitLines([]byte(tc.body), -1)
		if got := itemTexts(items); strings.Join(got, "|") != strings.Join(tc.want, "|") || n != len(tc.want) {
			t.Errorf("%s: got %q (n %d), want %q", tc.name, got, n, tc.want)
		}
		for _, it := range items {
			if (it.Err != nil) != !json.Valid(it.Raw) || (it.Err != nil && !errors.Is(it.Err, ErrUnparsable)) {
				t.Errorf("%s: item %q: error %v", tc.name, it.Raw, it.Err)
			}
		}
	}
	items, n := SplitLines([]byte("1\n2\n3\n[4,5]"), 2)
	if n != 5 || len(items) != 2 {
		t.Fatalf("limit: got %q, n %d", itemTexts(items), n)
	}
}

// FuzzItems checks the items splitter: it fails exactly when the body is
// not JSON, every item is JSON and a slice of the body, and the elements
// of a top-level array are those encoding/json finds, in order.
func FuzzItems(f *testing.F) {
	for _, seed := range []string{
		`{"events":[{"id":1},{"id":2}],"meta":{"webhook_id":"W"}}`, `[{"a":1},{"a":2}]`, `[]`, `{}`, `[1,]`, `{"events":[1],"events":[2]}`,
		`{"notificationItems":[{"NotificationRequestItem":{"x":1}}]}`, `[[[[[]]]]]`, `{"data":[1,2,3]}`, `"x"`, `{"\u0065vents":[3]}`,
	} {
		f.Add([]byte(seed))
	}
	var paths []*Items
	for _, p := range []string{"$[*]", "$.events[*]", "$.notificationItems[*].NotificationRequestItem", "$.*[*]", "$.data[1]", "$.*"} {
		it, err := CompileItems(p)
		if err != nil {
			f.Fatal(err)
		}
		paths = append(paths, it)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		valid := json.Valid(body)
		for _, it := range paths {
			items, n, err := it.Split(body, -1)
			if valid != (err == nil) {
				t.Fatalf("%s: json.Valid=%v, Split error %v", it, valid, err)
			}
			if err != nil {
				continue
			}
			if n != len(items) {
				t.Fatalf("%s: n %d, %d items", it, n, len(items))
			}
			for _, item := range items {
				if !json.Valid(item.Raw) || item.Err != nil || !within(body, item.Raw) {
					t.Fatalf("%s: item %q is not a well-formed slice of the body", it, item.Raw)
				}
			}
		}
		var elems []json.RawMessage
		if !valid || json.Unmarshal(body, &elems) != nil {
			return
		}
		items, _, _ := paths[0].Split(body, -1)
		if len(items) != len(elems) {
			t.Fatalf("$[*]: %d items, encoding/json finds %d", len(items), len(elems))
		}
		for i := range elems {
			if !bytes.Equal(items[i].Raw, bytes.Trim(elems[i], jsonSpace)) {
				t.Fatalf("$[*] item %d: %q, encoding/json %q", i, items[i].Raw, elems[i])
			}
		}
	})
}

// FuzzSplitLines checks the NDJSON splitter: every item is trimmed and
// non-blank, its error says whether it is JSON, and a body that is one
// JSON array splits into its elements.
func FuzzSplitLines(f *testing.F) {
	for _, seed := range []string{
		"{\"a\":1}\n{\"a\":2}\n", `[{"a":1},{"a":2}]`, "[\n1,\n2\n]", "{\"a\":\n", "\n\n", "1\n[2,3]\n{", "\r\n{}\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, n := SplitLines(body, -1)
		if n != len(items) {
			t.Fatalf("n %d, %d items", n, len(items))
		}
		for _, it := range items {
			if len(it.Raw) == 0 || !bytes.Equal(it.Raw, bytes.Trim(it.Raw, jsonSpace)) || !within(body, it.Raw) {
				t.Fatalf("item %q is not a trimmed slice of the body", it.Raw)
			}
			if (it.Err == nil) != json.Valid(it.Raw) {
				t.Fatalf("item %q: error %v, json.Valid %v", it.Raw, it.Err, json.Valid(it.Raw))
			}
		}
		var elems []json.RawMessage
		if json.Unmarshal(body, &elems) == nil && len(items) != len(elems) {
			t.Fatalf("one array of %d elements split into %d items", len(elems), len(items))
		}
	})
}

// within reports whether sub is a slice of b's memory.
func within(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(b); i++ {
		if &b[i] == &sub[0] {
			return true
		}
	}
	return false
}

// jsonSpace is JSON's white space, which bytes.TrimSpace is not.
const jsonSpace = " \t\r\n"
