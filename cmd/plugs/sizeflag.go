package main

import (
	"flag"
	"fmt"
	"strconv"
)

// sizeValue is a flag holding a byte count: a size such as 8GiB (B, KiB,
// MiB and GiB suffixes, as parseSize reads them), or none (also 0), which
// holds 0: no bound.
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil {
		return ""
	}
	return formatSize(*v.p)
}

func (v sizeValue) Set(s string) error {
	if s == "none" || s == "0" {
		*v.p = 0
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return fmt.Errorf("%q is not a size such as 8GiB, or none", s)
	}
	*v.p = n
	return nil
}

// sizeVar defines a size flag with a default.
func sizeVar(fs *flag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	fs.Var(sizeValue{p}, name, usage)
}

// formatSize writes n in the largest unit that divides it.
func formatSize(n int64) string {
	if n <= 0 {
		return "none"
	}
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// streamLimit is a size flag as backbone.StreamOptions takes a byte limit,
// where zero means the default and a negative value none.
func streamLimit(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}
