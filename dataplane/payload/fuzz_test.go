package payload

import (
	"encoding/json"
	"net/url"
	"testing"
)

func fuzzPaths() *Paths {
	var ps Paths
	for _, p := range []string{"$.id", "$.type", "$.data.object.customer", "$.a[0].b", "$['we\"ird']", "$.n", "$", "$..id"} {
		ps.MustAdd(p)
	}
	return &ps
}

// FuzzJSON checks the single-pass scanner against encoding/json: a body is
// accepted exactly when the standard library calls it valid, and every
// value found is itself valid JSON.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		stripeLike, `{}`, `[]`, `""`, `0`, `-1.5e+3`, `{"a":[{"b":"\u00e9\ud83d\ude00"}]}`, `{"a":}`, `[1,]`, `"\x"`,
		"\"a\tb\"", `{"id":1,"id":2}`, `[[[[[[[[]]]]]]]]`, `{"n":null,"t":true,"f":false}`, "  {\"id\" : \"x\" }  ", `01`, `1.`, `{"a":1}}`,
	} {
		f.Add([]byte(seed))
	}
	ps := fuzzPaths()
	f.Fuzz(func(t *testing.T, body []byte) {
		d := New(body, "application/json")
		out := make([]Value, ps.Len())
		err := ps.Lookup(d, out)
		if valid := json.Valid(body); valid != (err == nil) {
			t.Fatalf("json.Valid=%v, Lookup error %v, body %q", valid, err, body)
		}
		if err != nil {
			return
		}
		for i, v := range out {
			if v.raw != nil && !json.Valid(v.raw) {
				t.Fatalf("path %s: value %q is not JSON", ps.Text(i), v.raw)
			}
			_ = v.Text()
		}
	})
}

// FuzzForm checks form bodies: Check fails exactly when net/url does, and
// lookups never panic.
func FuzzForm(f *testing.F) {
	for _, seed := range []string{
		"a=1&b=2", "MessageStatus=delivered&To=%2B1555", "a=%zz", "=&=&", "a&b&c", "a=1&a=2&a=3", "%", "id=1;type=2", "",
	} {
		f.Add(seed)
	}
	ps := fuzzPaths()
	f.Fuzz(func(t *testing.T, body string) {
		d := New([]byte(body), "application/x-www-form-urlencoded")
		_, parseErr := url.ParseQuery(body)
		if err := d.Check(); (err == nil) != (parseErr == nil) {
			t.Fatalf("Check %v, url.ParseQuery %v", err, parseErr)
		}
		out := make([]Value, ps.Len())
		_ = ps.Lookup(d, out)
		for _, v := range out {
			_ = v.Text()
		}
	})
}
