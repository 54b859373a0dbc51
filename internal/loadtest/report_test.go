package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		measured, target float64
		atLeast          bool
		want             string
	}{
		{0.6, 0.5, true, "met"},
		{0.4, 0.5, true, "**missed** by 0.10 (20% short)"},
		{8, 10, false, "met"},
		{12.5, 10, false, "**missed** by 2.50 ms (25% over)"},
	} {
		unit := ratio
		if !c.atLeast {
			unit = msf
		}
		if got := verdict(c.measured, c.target, c.atLeast, unit); got != c.want {
			t.Errorf("verdict(%v, %v, %v) = %q, want %q", c.measured, c.target, c.atLeast, got, c.want)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "999": "999", "1000": "1,000", "1234567": "1,234,567", "-10000": "-10,000"} {
		if got := groupDigits(in); got != want {
			t.Errorf("groupDigits(%s) = %s, want %s", in, got, want)
		}
	}
}

// A report of one mode with its targets judged: the miss says by how much.
func TestWriteReport(t *testing.T) {
	phase := func(name string, rate float64, ok int64, p99 time.Duration) *Result {
		h := &Histogram{}
		for range 99 {
			h.Record(time.Millisecond)
		}
		h.Record(p99)
		h.Record(p99)
		return &Result{Phase: Phase{Name: name, Rate: rate, Duration: time.Second}, Elapsed: time.Second, OK: ok, Sent: ok,
			Status: map[int]int64{200: ok, 503: 2}, Latency: h, Delivery: &Tally{Accepted: int(ok), Delivered: int(ok)}}
	}
	m := &ModeResult{Mode: ModeDefault, Bare: phase("bare", 0, 1000, 2*time.Millisecond), Max: phase("max", 0, 400, 20*time.Millisecond)}
	m.Open = []*Result{phase("open0", 200, 200, 15*time.Millisecond)}
	res := &Results{Machine: Machine{CPU: "Test CPU", Cores: 2, GoVersion: "go1.26"}, Started: time.Unix(1700000000, 0),
		Modes: []*ModeResult{m}, Config: Config{EndToEnd: EndToEndConfig{Workers: 32, Duration: time.Second}}}
	var b strings.Builder
	if err := WriteReport(&b, Report{Results: res, Command: "make bench"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPU | Test CPU |",
		"| cores | 2 |",
		"0.40 (400/s vs 1,000/s) | **missed** by 0.10 (20% short) |",
		"p99 latency at half the maximum rate (default, 200/s), at most 10.00 ms | 15.00 ms | **missed** by 5.00 ms (50% over) |",
		"| 503: 2 |",
		"`make bench`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
