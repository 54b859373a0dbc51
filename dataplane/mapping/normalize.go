package mapping

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
)

// maxExponent bounds the exponent of a quantity such as "1e5", so "1e999999"
// cannot expand into a megabyte of zeros.
const maxExponent = 30

// Decimal checks that text is a decimal number (JSON number syntax, or the
// same inside a string, surrounding spaces and a leading "+" allowed) and
// returns it in plain decimal notation without an exponent. Billing
// quantities are never rounded through float64.
func Decimal(text string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(text), "+")
	mant, exp, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, exp, hasExp = strings.Cut(s, "E")
	}
	if !validMantissa(mant) {
		return "", fmt.Errorf("%q is not a decimal number", text)
	}
	if !hasExp {
		return mant, nil
	}
	e, err := strconv.Atoi(exp)
	if err != nil || e > maxExponent || e < -maxExponent {
		return "", fmt.Errorf("%q: exponent out of range", text)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("%q is not a decimal number", text)
	}
	frac := 0
	if _, f, ok := strings.Cut(mant, "."); ok {
		frac = len(f)
	}
	return trimZeros(r.FloatString(max(frac-e, 0))), nil
}

func validMantissa(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) {
		return false
	}
	return !hasFrac || (frac != "" && allDigits(frac))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// unixMillisFrom is where a number stops being Unix seconds and starts being
// milliseconds: 1e11 seconds is the year 5138, 1e11 milliseconds is 1973.
const unixMillisFrom = 1e11

// Time reads an event time: RFC 3339 text, or Unix seconds or milliseconds
// as a number or numeric string (told apart by size; seconds may carry a
// fraction). The result is UTC.
func Time(v payload.Value) (time.Time, error) {
	text := strings.TrimSpace(v.Text())
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		if f != f || f > 1e15 || f < -1e15 {
			return time.Time{}, fmt.Errorf("%q is out of range", text)
		}
		if f >= unixMillisFrom || f <= -unixMillisFrom {
			ms := int64(f)
			return time.UnixMilli(ms).UTC(), nil
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).Round(time.Microsecond).UTC(), nil
	}
	if v.Kind != payload.String {
		return time.Time{}, fmt.Errorf("not a time")
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds or milliseconds", text)
	}
	return t.UTC(), nil
}
