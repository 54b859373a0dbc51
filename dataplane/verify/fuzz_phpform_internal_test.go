package verify

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/plugshq/plugs/dataplane/payload"
)

// FuzzPHPSerializedForm writes random form bodies the PHP way and reads
// the text back with an independent reader of serialize()'s format: it
// must hold exactly the form's fields (the last value of each, the left-out
// field gone) in ksort() order, or the body must fail to parse as net/url
// fails on it.
func FuzzPHPSerializedForm(f *testing.F) {
	f.Add("b=2&p_signature=x&a=1", "p_signature")
	f.Add("name=J%C3%BCrgen&q=%22%3B%7D", "sig")
	f.Add("10=x&9=y&-1=z&07=w&-0=v&b=u", "")
	f.Add("a=1&a=2&a=", "a")
	f.Add("a=%zz", "")
	f.Add("9223372036854775808=big&-9223372036854775808=small", "")
	f.Fuzz(func(t *testing.T, body, leaveOut string) {
		out, err := appendPHPSerializedForm(nil, payload.New([]byte(body), "application/x-www-form-urlencoded"), leaveOut)
		q, perr := url.ParseQuery(body)
		if perr != nil {
			if !errors.Is(err, ErrSignatureMalformed) {
				t.Fatalf("body %q does not parse, got %v", body, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		keys, vals, rerr := readPHPArray(string(out))
		if rerr != nil {
			t.Fatalf("body %q wrote %q: %v", body, out, rerr)
		}
		delete(q, leaveOut)
		if len(keys) != len(q) {
			t.Fatalf("body %q wrote %d fields, want %d: %q", body, len(keys), len(q), out)
		}
		for i, k := range keys {
			want := q[k.name]
			if len(want) == 0 || vals[i] != want[len(want)-1] {
				t.Fatalf("body %q: field %q = %q, want the last of %q", body, k.name, vals[i], want)
			}
			if n, isInt := phpIntKey(k.name); isInt != k.isInt || (isInt && strconv.FormatInt(n, 10) != k.name) {
				t.Fatalf("body %q: key %q written as integer %v", body, k.name, k.isInt)
			}
			if i > 0 && !phpKeyLess(keys[i-1], k) {
				t.Fatalf("body %q: %q before %q", body, keys[i-1].name, k.name)
			}
		}
	})
}

type phpKey struct {
	name  string
	isInt bool
}

// phpKeyLess is ksort()'s order for keys of a form: integers numerically,
// anything else by bytes.
func phpKeyLess(a, b phpKey) bool {
	if a.isInt && b.isInt {
		x, _ := strconv.ParseInt(a.name, 10, 64)
		y, _ := strconv.ParseInt(b.name, 10, 64)
		return x < y
	}
	return a.name < b.name
}

// readPHPArray reads a:<n>:{…} of string or integer keys and string
// values, as unserialize() would.
func readPHPArray(s string) ([]phpKey, []string, error) {
	rest, ok := strings.CutPrefix(s, "a:")
	if !ok {
		return nil, nil, errors.New("no a:")
	}
	countText, rest, ok := strings.Cut(rest, ":{")
	if !ok {
		return nil, nil, errors.New("no count")
	}
	n, err := strconv.Atoi(countText)
	if err != nil {
		return nil, nil, err
	}
	readString := func() (string, error) {
		r, ok := strings.CutPrefix(rest, "s:")
		if !ok {
			return "", errors.New("no s:")
		}
		lenText, r, ok := strings.Cut(r, ":\"")
		if !ok {
			return "", errors.New("no length")
		}
		l, err := strconv.Atoi(lenText)
		if err != nil || l < 0 || len(r) < l+2 || r[l:l+2] != "\";" {
			return "", errors.New("bad string")
		}
		rest = r[l+2:]
		return r[:l], nil
	}
	var keys []phpKey
	var vals []string
	for range n {
		if r, ok := strings.CutPrefix(rest, "i:"); ok {
			num, r2, ok := strings.Cut(r, ";")
			if !ok {
				return nil, nil, errors.New("bad integer")
			}
			if _, err := strconv.ParseInt(num, 10, 64); err != nil {
				return nil, nil, err
			}
			keys, rest = append(keys, phpKey{name: num, isInt: true}), r2
		} else {
			k, err := readString()
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, phpKey{name: k})
		}
		v, err := readString()
		if err != nil {
			return nil, nil, err
		}
		vals = append(vals, v)
	}
	if rest != "}" {
		return nil, nil, errors.New("trailing text")
	}
	return keys, vals, nil
}
