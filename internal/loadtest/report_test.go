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
	m.Max.Drain = time.Second // 400 delivered over 2 s: 200/s end to end
	open := phase("open0", 200, 200, 15*time.Millisecond)
	open.Lag = &Histogram{}
	for range 99 {
		open.Lag.Record(100 * time.Millisecond)
	}
	open.Lag.Record(1500 * time.Millisecond)
	open.Lag.Record(1500 * time.Millisecond)
	m.Open = []*Result{open}
	// 0.8 s of CPU over a 1 s profile at 400 accepted/s: 2,000 µs each.
	m.Profiles = &Profiles{Wall: time.Second, PlugsParts: []Share{
		{Part: "forwarder", CPU: 600 * time.Millisecond, Fraction: 0.75},
		{Part: "ingest", CPU: 200 * time.Millisecond, Fraction: 0.25},
	}}
	fsync := &ModeResult{Mode: ModeFsync, Bare: phase("bare", 0, 1000, time.Millisecond), Max: phase("max", 0, 250, time.Millisecond)}
	roles := &RolesResult{Bare: phase("bare", 0, 1000, time.Millisecond), Max: phase("roles-max", 0, 500, time.Millisecond)}
	mem := &MemoryResult{Sources: 10_000, One: phase("memory-one", 0, 1000, time.Millisecond), Phase: phase("memory", 0, 950, time.Millisecond),
		PeakRSS:  100 << 20,
		OneCPU:   CPUUse{Names: []string{"backbone"}, CPU: map[string]time.Duration{"backbone": 100 * time.Millisecond}, Accepted: 1000},
		PhaseCPU: CPUUse{Names: []string{"backbone"}, CPU: map[string]time.Duration{"backbone": 114 * time.Millisecond}, Accepted: 950},
		// 100 and 120 µs per webhook of the forwarder at 1,000/s over 2 s.
		OneProfile:   &Profiles{Wall: 2 * time.Second, PlugsParts: []Share{{Part: "forwarder", CPU: 200 * time.Millisecond}}},
		PhaseProfile: &Profiles{Wall: 2 * time.Second, PlugsParts: []Share{{Part: "forwarder", CPU: 240 * time.Millisecond}}},
		OneRate:      1000, PhaseRate: 1000}
	res := &Results{Machine: Machine{CPU: "Test CPU", Cores: 2, GoVersion: "go1.26"}, Started: time.Unix(1700000000, 0),
		Modes: []*ModeResult{m, fsync}, Roles: roles, Memory: mem, Config: Config{EndToEnd: EndToEndConfig{Workers: 32, Duration: time.Second}}}
	var b strings.Builder
	if err := WriteReport(&b, Report{Results: res, Command: "make bench"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| CPU | Test CPU |",
		"| cores | 2 |",
		"at least 0.35 of the bare handler | 0.20 (200/s delivered end to end, 400/s accepted, vs 1,000/s) | " +
			"**missed** by 0.15 (43% short); aim of 0.50 missed by 0.30 |",
		"fsync durability, at least 0.20 of the bare handler | 0.25 (250/s delivered end to end, 250/s accepted, vs 1,000/s) | met |",
		"p99 latency at half the maximum rate (default, 200/s), at most 10ms | 15.00 ms | **missed** by 5.00 ms (50% over) |",
		"p99 delivery lag (200 to destination) at half the maximum rate (default, 200/s), at most 1s | 1500.00 ms | **missed** by 500.00 ms (50% over) |",
		"| data-plane CPU per accepted webhook at maximum rate (default; no target, parts under CPU profiles) | 2000.0 µs | – |",
		"| forwarder | 0.60 s | 75% | 1500.0 µs |",
		"`--roles receive` (forwarding in another), at least 0.60 of the bare handler | 0.50 (500/s vs 1,000/s) | **missed** by 0.10 (17% short) |",
		"with 10,000 active sources within 10% of one source's (ratio at least 0.90) | 0.95 (950/s vs 1,000/s) | met |",
		"| Plugs, max, one source | max | 1,000/s |",
		"| backbone | 100.0 µs | 120.0 µs | 1.20 |",
		"| forwarder | 100.0 µs | 120.0 µs | +20.0 µs |",
		"| 100.14 ms | 1500.00 ms | 1500.00 ms |", // p50 to within its bucket, never understated
		"exactly once (6 phases)",
		"| 503: 2 |",
		"`make bench`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
