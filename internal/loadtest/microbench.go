package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Micro is one line of `go test -bench` output: a Go benchmark's result.
type Micro struct {
	// Pkg is the import path of the benchmark's package.
	Pkg string
	// Name is the benchmark's name without "Benchmark" and without the
	// GOMAXPROCS suffix, sub-benchmarks included ("Store/fsync").
	Name string
	N    int64
	// Metrics in the order printed: ns/op, MB/s, B/op, allocs/op and any
	// the benchmark reports itself.
	Metrics []Metric
}

// Metric is one value of a benchmark with its unit.
type Metric struct {
	Value float64
	Unit  string
}

// Metric returns the value with unit, and whether the benchmark reported
// it.
func (m *Micro) Metric(unit string) (float64, bool) {
	for _, x := range m.Metrics {
		if x.Unit == unit {
			return x.Value, true
		}
	}
	return 0, false
}

// ParseMicro reads `go test -bench` output (several packages' worth, in
// the text format) and returns the benchmark lines in order.
func ParseMicro(r io.Reader) ([]Micro, error) {
	var out []Micro
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// Name, iterations, then value-unit pairs. A line that is only a
		// name (a parent of sub-benchmarks, or a benchmark that logged
		// before its result) carries no figures.
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := Micro{Pkg: pkg, Name: benchName(f[0]), N: n}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("loadtest: benchmark line %q: %w", line, err)
			}
			m.Metrics = append(m.Metrics, Metric{Value: v, Unit: f[i+1]})
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadtest: benchmark output: %w", err)
	}
	return out, nil
}

// benchName strips "Benchmark" and the "-<GOMAXPROCS>" suffix.
func benchName(s string) string {
	s = strings.TrimPrefix(s, "Benchmark")
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			s = s[:i]
		}
	}
	return s
}

// FindMicro returns the first benchmark named name.
func FindMicro(ms []Micro, name string) *Micro {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}
