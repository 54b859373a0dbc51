package verify

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/plugshq/plugs/dataplane/payload"
)

// appendPHPSerializedForm appends the form fields of body, except the one
// named leaveOut, as PHP's serialize() writes the array a PHP receiver
// reads them into after ksort() (Paddle Classic signs that text):
//
//	a:<n>:{s:<len>:"<name>";s:<len>:"<value>";…}
//
// with lengths in bytes and nothing escaped. PHP's array semantics are
// kept where they change the text: a repeated name holds its last value,
// and a name that is a decimal integer ("7", "-12", not "07" or "+1")
// becomes an integer key, written i:<n>; and ordered numerically among the
// other integer keys; every other pair of names compares by bytes, as PHP
// 8's ksort() compares an integer with a non-numeric string.
//
// PHP would also turn "." and " " in names into "_" and read bracketed
// names ("a[b]") as nested arrays; names are signed as sent instead, so a
// sender relying on those rewritings does not verify.
func appendPHPSerializedForm(buf []byte, body *payload.Doc, leaveOut string) ([]byte, error) {
	if !body.Form() {
		return buf, fmt.Errorf("%w: the body is not a form, and the scheme signs form fields", ErrSignatureInvalid)
	}
	q, err := url.ParseQuery(string(body.Raw()))
	if err != nil {
		return buf, fmt.Errorf("%w: form body does not parse: %w", ErrSignatureMalformed, err)
	}
	type field struct {
		name   string
		intKey bool
		n      int64
	}
	fields := make([]field, 0, len(q))
	for name := range q {
		if name == leaveOut {
			continue
		}
		n, ok := phpIntKey(name)
		fields = append(fields, field{name: name, intKey: ok, n: n})
	}
	slices.SortFunc(fields, func(a, b field) int {
		if a.intKey && b.intKey {
			return cmp.Compare(a.n, b.n)
		}
		return cmp.Compare(a.name, b.name)
	})
	buf = append(buf, "a:"...)
	buf = strconv.AppendInt(buf, int64(len(fields)), 10)
	buf = append(buf, ":{"...)
	for _, f := range fields {
		if f.intKey {
			buf = append(buf, "i:"...)
			buf = strconv.AppendInt(buf, f.n, 10)
			buf = append(buf, ';')
		} else {
			buf = appendPHPString(buf, f.name)
		}
		vals := q[f.name]
		buf = appendPHPString(buf, vals[len(vals)-1])
	}
	return append(buf, '}'), nil
}

// appendPHPString appends s:<len>:"<s>"; with the length in bytes.
func appendPHPString(buf []byte, s string) []byte {
	buf = append(buf, "s:"...)
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, ":\""...)
	buf = append(buf, s...)
	return append(buf, "\";"...)
}

// phpIntKey reports whether PHP stores the array key name as an integer:
// a decimal integer without leading zeros or a plus sign that fits in 64
// bits.
func phpIntKey(name string) (int64, bool) {
	digits := name
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(name) > 1)) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
