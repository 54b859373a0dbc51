package payload

import (
	"strings"
	"testing"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"
)

const stripeLike = `{
  "id": "evt_1", "object": "event", "created": 1686089970,
  "data": {"object": {"id": "in_1", "customer": "cus_\u0041B", "lines": [{"quantity": 3}, {"quantity": 12.50}],
           "meta": {"a": [1, {"b": "x"}], "empty": {}}, "nothing": null, "flag": true}},
  "we\"ird": "q", "type": "invoice.paid", "dup": 1, "dup": 2
}`

func TestLookupMatchesOJG(t *testing.T) {
	paths := []string{
		"$.id", "$.type", "$.created", "$.data.object.customer", "$.data.object.lines[1].quantity",
		"$.data.object.lines[0]", "$.data.object.meta.a[1].b", "$.data.object.meta.empty",
		"$.data.object.nothing", "$.data.object.flag", "$['we\"ird']", "$.missing", "$.data.object.lines[7]",
		"$.data.object.lines[*].quantity", "$..customer", "$.data.object.lines[-1].quantity", "$",
	}
	var ps Paths
	for _, p := range paths {
		if _, err := ps.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	d := New([]byte(stripeLike), "application/json")
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	out := make([]Value, ps.Len())
	if err := ps.Lookup(d, out); err != nil {
		t.Fatal(err)
	}
	parsed := oj.MustParse([]byte(stripeLike))
	for i, p := range paths {
		want, found := jp.MustParseString(p).FirstFound(parsed)
		wantText := normal(parsedValue(want, found).Text())
		if got := normal(out[i].Text()); got != wantText {
			t.Errorf("%s: got %q, want %q", p, got, wantText)
		}
		single, err := ps.Get(d, i)
		if err != nil {
			t.Fatal(err)
		}
		if single.Text() != out[i].Text() || single.Kind != out[i].Kind {
			t.Errorf("%s: Get %q (%d), Lookup %q (%d)", p, single.Text(), single.Kind, out[i].Text(), out[i].Kind)
		}
	}
	if out[1].Kind != String || out[2].Kind != Number || out[8].Kind != Null || out[11].Kind != Missing {
		t.Errorf("kinds: %v %v %v %v", out[1].Kind, out[2].Kind, out[8].Kind, out[11].Kind)
	}
	if got := out[4].Text(); got != "12.50" {
		t.Errorf("a number keeps its text: %q", got)
	}
}

func TestFormBody(t *testing.T) {
	var ps Paths
	a := ps.MustAdd("$.MessageStatus")
	b := ps.MustAdd("$.To")
	c := ps.MustAdd("$.Tag")
	d := New([]byte("MessageStatus=delivered&To=%2B15558675310&Tag=a&Tag=b"), "application/x-www-form-urlencoded; charset=utf-8")
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	out := make([]Value, ps.Len())
	if err := ps.Lookup(d, out); err != nil {
		t.Fatal(err)
	}
	if out[a].Text() != "delivered" || out[b].Text() != "+15558675310" || out[c].Text() != `["a","b"]` {
		t.Fatalf("got %q %q %q", out[a].Text(), out[b].Text(), out[c].Text())
	}
}

func TestCheck(t *testing.T) {
	for _, body := range []string{"", "  ", "{", `{"a":1}x`, `{"a":}`, "nul", "1.", "01", `{"a":1,}`, `[1,]`, `"\x"`, "\"a\tb\"", `{"a":1}}`, `[` + strings.Repeat("[", 600) + `]`} {
		if err := New([]byte(body), "application/json").Check(); err == nil {
			t.Errorf("%q: want unparsable", body)
		}
	}
	if err := New([]byte("a=%zz"), "application/x-www-form-urlencoded").Check(); err == nil {
		t.Error("bad form escape: want unparsable")
	}
}

// normal rewrites JSON text the way ojg would print it parsed, so texts
// that differ only in number spelling and key order compare equal.
func normal(text string) string {
	v, err := oj.ParseString(text)
	if err != nil {
		return text
	}
	return oj.JSON(v, &oj.Options{Sort: true})
}
