package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Targets of the performance issue (2-core machine, load generator on the
// same machine).
const (
	// End-to-end (accepted and delivered) webhooks/s as a fraction of the
	// bare handler's throughput; AimRatioDefault is what is aimed at.
	TargetRatioDefault = 0.35
	AimRatioDefault    = 0.50
	TargetRatioFsync   = 0.20
	// TargetP99 and TargetLagP99 are judged at half the maximum rate.
	TargetP99    = 10 * time.Millisecond
	TargetLagP99 = time.Second
	// TargetRatioReceive is a receive-role data plane's throughput as a
	// fraction of the bare handler's.
	TargetRatioReceive = 0.60
	// TargetSpread is the many-source throughput as a fraction of the
	// one-source throughput (within 10 %).
	TargetSpread  = 0.90
	TargetRSS     = 150e6 // bytes: 150 MB, 143 MiB
	TargetSources = 10_000
	// Receiver micro benchmark and configuration propagation targets.
	TargetVerifyNs      = 10_000
	TargetVerifyAllocs  = 20
	TargetPropagationMs = 250
	TargetDeltaBytes    = 4096
)

// Report is what WriteReport renders.
type Report struct {
	Results *Results
	// Micro are the Go benchmarks run before the harness.
	Micro []Micro
	// Command is how the run was started, for the reader to repeat it.
	Command string
}

// WriteReport writes the report as markdown.
func WriteReport(w io.Writer, rep Report) error {
	var b strings.Builder
	r := rep.Results
	m := r.Machine
	fmt.Fprintf(&b, "# Plugs benchmark report\n\n")
	fmt.Fprintf(&b, "Measured %s, in %s.\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| OS | %s |\n| Go | %s |\n", m.CPU, m.Cores, m.MemTotal, m.OS, m.GoVersion)
	fmt.Fprintf(&b, "| load average at start | %s |\n", m.LoadAvg)
	if m.Commit != "" {
		fmt.Fprintf(&b, "| commit | %s |\n", m.Commit)
	}
	if rep.Command != "" {
		fmt.Fprintf(&b, "| command | `%s` |\n", rep.Command)
	}
	b.WriteString("\nThe load generator, the destination and the bare reference handler run on the same machine as Plugs, " +
		"sharing its cores. A load average near or above the core count at the start means other work was " +
		"running: figures of such a run are comparable with each other (the reference is measured next to " +
		"Plugs for that reason), not with another machine's.\n\n")

	writeTargets(&b, rep)
	writeEndToEnd(&b, r)
	writeRoles(&b, r)
	writeMemory(&b, r)
	writeBackbone(&b, r)
	writeMicro(&b, rep.Micro)
	writeProfiles(&b, r)
	if len(r.Errors) > 0 {
		b.WriteString("## Measurements that failed\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(e, "\n", " "))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict says whether measured meets a target of at least (atLeast) or
// at most target, and by how much it misses.
func verdict(measured, target float64, atLeast bool, unit func(float64) string) string {
	switch {
	case math.IsNaN(measured):
		return "not measured"
	case atLeast && measured >= target, !atLeast && measured <= target:
		return "met"
	case atLeast:
		return fmt.Sprintf("**missed** by %s (%.0f%% short)", unit(target-measured), 100*(target-measured)/target)
	default:
		return fmt.Sprintf("**missed** by %s (%.0f%% over)", unit(measured-target), 100*(measured-target)/target)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
func msf(v float64) string      { return fmt.Sprintf("%.2f ms", v) }
func ratio(v float64) string    { return fmt.Sprintf("%.2f", v) }
func mib(v float64) string      { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
func bytesf(v float64) string   { return groupDigits(fmt.Sprintf("%.0f", v)) + " B" }
func nsf(v float64) string      { return groupDigits(fmt.Sprintf("%.0f", v)) + " ns" }
func count(v float64) string    { return fmt.Sprintf("%.0f", v) }
func rate(v float64) string     { return groupDigits(fmt.Sprintf("%.0f", v)) + "/s" }
func thousands(n int64) string  { return groupDigits(fmt.Sprint(n)) }
func percent(v float64) string  { return fmt.Sprintf("%.0f%%", 100*v) }
func us(v float64) string       { return fmt.Sprintf("%.1f µs", v) }
func roundDur(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// halfMax is the open-loop phase at half the measured maximum, the one
// the latency target is judged at.
func halfMax(m *ModeResult) *Result {
	for _, o := range m.Open {
		if m.Max != nil && math.Abs(o.Rate-0.5*m.Max.Throughput()) < 0.5 {
			return o
		}
	}
	return nil
}

func writeTargets(b *strings.Builder, rep Report) {
	r := rep.Results
	b.WriteString("## Targets\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, m := range r.Modes {
		want := TargetRatioDefault
		if m.Mode == ModeFsync {
			want = TargetRatioFsync
		}
		if m.Max != nil && m.Bare != nil {
			v := verdict(m.EndToEndRatio(), want, true, ratio)
			if m.Mode != ModeFsync {
				aim := "aim of " + ratio(AimRatioDefault) + " met"
				if m.EndToEndRatio() < AimRatioDefault {
					aim = fmt.Sprintf("aim of %s missed by %s", ratio(AimRatioDefault), ratio(AimRatioDefault-m.EndToEndRatio()))
				}
				v += "; " + aim
			}
			fmt.Fprintf(b, "| accepted and delivered webhooks/s, %s durability, at least %s of the bare handler | %.2f (%s delivered end to end, %s accepted, vs %s) | %s |\n",
				m.Mode, ratio(want), m.EndToEndRatio(), rate(m.Max.Delivered()), rate(m.Max.Throughput()), rate(m.Bare.Throughput()), v)
		}
		if h := halfMax(m); h != nil {
			p99 := h.Latency.Quantile(0.99)
			fmt.Fprintf(b, "| p99 latency at half the maximum rate (%s, %s), at most %s | %s | %s |\n",
				m.Mode, rate(h.Rate), TargetP99, ms(p99), verdict(float64(p99)/1e6, float64(TargetP99)/1e6, false, msf))
			if h.Lag != nil && h.Lag.Count() > 0 {
				lag := h.Lag.Quantile(0.99)
				fmt.Fprintf(b, "| p99 delivery lag (200 to destination) at half the maximum rate (%s, %s), at most %s | %s | %s |\n",
					m.Mode, rate(h.Rate), TargetLagP99, ms(lag), verdict(float64(lag)/1e6, float64(TargetLagP99)/1e6, false, msf))
			}
		}
		if per, _, ok := cpuPerWebhook(m); ok {
			fmt.Fprintf(b, "| data-plane CPU per accepted webhook at maximum rate (%s; no target, parts under CPU profiles) | %s | – |\n", m.Mode, us(per))
		}
	}
	if ro := r.Roles; ro != nil && ro.Max != nil && ro.Bare != nil {
		fmt.Fprintf(b, "| data plane with `--roles receive` (forwarding in another), at least %s of the bare handler | %.2f (%s vs %s) | %s |\n",
			ratio(TargetRatioReceive), ro.Ratio(), rate(ro.Max.Throughput()), rate(ro.Bare.Throughput()), verdict(ro.Ratio(), TargetRatioReceive, true, ratio))
	}
	if mem := r.Memory; mem != nil && mem.One != nil && mem.Phase != nil {
		v := verdict(mem.SpreadRatio(), TargetSpread, true, ratio)
		if mem.Sources < TargetSources {
			v = "not judged: the target is for " + thousands(TargetSources) + " sources"
		}
		fmt.Fprintf(b, "| throughput with %s active sources within 10%% of one source's (ratio at least %s) | %.2f (%s vs %s) | %s |\n",
			thousands(int64(mem.Sources)), ratio(TargetSpread), mem.SpreadRatio(), rate(mem.Phase.Throughput()), rate(mem.One.Throughput()), v)
	}
	if mem := r.Memory; mem != nil && mem.Phase != nil {
		peak := float64(max(mem.PeakRSS, mem.After.HWM))
		v := verdict(peak, TargetRSS, false, mib)
		if mem.Sources < TargetSources {
			v = "not judged: the target is for " + thousands(TargetSources) + " sources"
		}
		fmt.Fprintf(b, "| data-plane RSS with %s sources under load, at most 150 MB (%s) | %s (peak) | %s |\n",
			thousands(int64(mem.Sources)), mib(TargetRSS), mib(peak), v)
	}
	lost, dup, phases := 0, 0, 0
	for _, res := range allPhases(r) {
		if res.Delivery != nil {
			phases++
			lost += res.Delivery.Lost
			dup += res.Delivery.Duplicated + res.Delivery.Unexpected
		}
	}
	if phases > 0 {
		v := "met"
		if lost+dup > 0 {
			v = "**missed**"
		}
		fmt.Fprintf(b, "| every accepted event delivered exactly once (%d phases) | %d lost, %d duplicated or unexpected | %s |\n", phases, lost, dup, v)
	}
	if vfm := FindMicro(rep.Micro, "VerifyFilterMap"); vfm != nil {
		if ns, ok := vfm.Metric("ns/op"); ok {
			fmt.Fprintf(b, "| verify + filter + map of a 2 KB event, at most %s/op | %s/op | %s |\n", nsf(TargetVerifyNs), nsf(ns), verdict(ns, TargetVerifyNs, false, nsf))
		}
		if a, ok := vfm.Metric("allocs/op"); ok {
			fmt.Fprintf(b, "| verify + filter + map, at most %d allocs/op | %.0f | %s |\n", TargetVerifyAllocs, a, verdict(a, TargetVerifyAllocs, false, count))
		}
	}
	if p := FindMicro(rep.Micro, "Propagation"); p != nil {
		if v, ok := p.Metric("p99-ms"); ok {
			fmt.Fprintf(b, "| configuration change to 100 data planes over 10,000 sources, p99 at most %d ms | %s | %s |\n", TargetPropagationMs, msf(v), verdict(v, TargetPropagationMs, false, msf))
		}
		if v, ok := p.Metric("B/plane/update"); ok {
			fmt.Fprintf(b, "| bytes per data plane for a one-source change, at most %d B | %s | %s |\n", TargetDeltaBytes, bytesf(v), verdict(v, TargetDeltaBytes, false, bytesf))
		}
	}
	b.WriteString("\n")
}

// cpuPerWebhook is the data plane's CPU time per accepted webhook in the
// max-rate phase, in microseconds, in total and per part: the profile's
// CPU divided by the webhooks accepted while it ran (the phase's rate
// times the profile's length, the profile covering most of the phase).
func cpuPerWebhook(m *ModeResult) (float64, []float64, bool) {
	p := m.Profiles
	if p == nil || m.Max == nil || len(p.PlugsParts) == 0 || p.Wall <= 0 {
		return 0, nil, false
	}
	hooks := m.Max.Throughput() * p.Wall.Seconds()
	if hooks <= 0 {
		return 0, nil, false
	}
	var total time.Duration
	per := make([]float64, len(p.PlugsParts))
	for i, s := range p.PlugsParts {
		total += s.CPU
		per[i] = float64(s.CPU) / 1e3 / hooks
	}
	return float64(total) / 1e3 / hooks, per, true
}

// allPhases are the measured Plugs phases whose deliveries were checked.
func allPhases(r *Results) []*Result {
	var out []*Result
	for _, m := range r.Modes {
		if m.Max != nil {
			out = append(out, m.Max)
		}
		out = append(out, m.Open...)
	}
	if r.Roles != nil && r.Roles.Max != nil {
		out = append(out, r.Roles.Max)
	}
	if r.Memory != nil && r.Memory.One != nil {
		out = append(out, r.Memory.One)
	}
	if r.Memory != nil && r.Memory.Phase != nil {
		out = append(out, r.Memory.Phase)
	}
	return out
}

func phaseHeader(b *strings.Builder) {
	b.WriteString("| phase | rate asked | 200/s | p50 | p95 | p99 | p99.9 | max | errors | accepted | delivered | lost | dup. | drained in | delivered/s | lag p50 | lag p99 | lag max |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
}

func phaseRow(b *strings.Builder, label string, r *Result) {
	asked := "max"
	if r.Rate > 0 {
		asked = rate(r.Rate)
	}
	l := r.Latency
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |", label, asked, rate(r.Throughput()),
		ms(l.Quantile(0.5)), ms(l.Quantile(0.95)), ms(l.Quantile(0.99)), ms(l.Quantile(0.999)), ms(l.Max()), errorText(r))
	if d := r.Delivery; d != nil {
		fmt.Fprintf(b, " %s | %s | %d | %d | %s | %s |", thousands(int64(d.Accepted)), thousands(int64(d.Delivered)), d.Lost,
			d.Duplicated+d.Unexpected, roundDur(r.Drain), rate(r.Delivered()))
	} else {
		b.WriteString(" – | – | – | – | – | – |")
	}
	if g := r.Lag; g != nil && g.Count() > 0 {
		fmt.Fprintf(b, " %s | %s | %s |\n", ms(g.Quantile(0.5)), ms(g.Quantile(0.99)), ms(g.Max()))
	} else {
		b.WriteString(" – | – | – |\n")
	}
}

func errorText(r *Result) string {
	var parts []string
	for _, e := range r.Errors() {
		switch e.Code {
		case -1:
			parts = append(parts, fmt.Sprintf("unsigned: %d", e.Count))
		case 0:
			parts = append(parts, fmt.Sprintf("no answer: %d", e.Count))
		default:
			parts = append(parts, fmt.Sprintf("%d: %d", e.Code, e.Count))
		}
	}
	if r.Unsent > 0 {
		parts = append(parts, fmt.Sprintf("not sent (schedule overran): %d", r.Unsent))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func writeEndToEnd(b *strings.Builder, r *Results) {
	if len(r.Modes) == 0 {
		return
	}
	c := r.Config.EndToEnd
	b.WriteString("## End to end\n\n")
	fmt.Fprintf(b, "Signed ~2 KB Stripe `invoice.paid` webhooks (unique provider event ids, `Stripe-Signature` made by "+
		"`verify.Sign`) over keep-alive connections to `plugs dev`, which verifies, maps, stores each event in "+
		"the embedded JetStream, answers 200, writes a receipt and forwards the event, signed, to a destination "+
		"served by the load generator; the destination verifies each delivery with the `consumer` package. "+
		"Max-rate phases are closed-loop with %d workers for %s; fixed-rate phases are open-loop for %s with up to "+
		"%d requests under way, latency counted from each request's scheduled send time. After each phase the "+
		"harness waits until every event answered 200 has reached the destination and checks that each arrived "+
		"exactly once (\"drained in\" is that wait; \"delivered/s\" counts the events delivered over the phase and that wait: "+
		"the rate Plugs sustains end to end when forwarding is slower than receiving, and what the throughput targets judge; \"lag\" is each delivered event's "+
		"delivery lag, from the moment the generator read its 200 to its arrival at the destination, both on the generator's clock, "+
		"a delivery overtaking its 200 counting as zero). The bare handler is a `net/http` handler in the generator "+
		"process that reads the body, checks the same HMAC and answers 200, driven by the same client code, "+
		"measured just before Plugs in each mode.\n\n", c.Workers, c.Duration, c.OpenDuration, c.OpenWorkers)
	for _, m := range r.Modes {
		title := m.Mode + " durability"
		switch m.Mode {
		case ModeDefault:
			title += " (acknowledged writes reach the OS before the 200; files synced every two minutes)"
		case ModeFsync:
			title += " (`--nats-fsync`: every write synced to disk before the 200)"
		case ModeRemote:
			title = "installation at " + c.Remote.API.Ingest
		}
		fmt.Fprintf(b, "### %s\n\n", title)
		if m.Startup > 0 {
			fmt.Fprintf(b, "`plugs dev` served %s after start. ", roundDur(m.Startup))
		}
		if m.Max != nil && m.Bare != nil {
			fmt.Fprintf(b, "Plugs' maximum throughput is **%.2f** of the bare handler's (%s vs %s) in 200s, **%.2f** in events delivered end to end (%s).",
				m.Ratio(), rate(m.Max.Throughput()), rate(m.Bare.Throughput()), m.EndToEndRatio(), rate(m.Max.Delivered()))
		}
		b.WriteString("\n\n")
		phaseHeader(b)
		if m.Bare != nil {
			phaseRow(b, "bare handler", m.Bare)
		}
		if m.Max != nil {
			phaseRow(b, "Plugs, max", m.Max)
		}
		for _, o := range m.Open {
			label := "Plugs, fixed"
			if m.Max != nil && m.Max.Throughput() > 0 {
				label = fmt.Sprintf("Plugs, %s of max", percent(o.Rate/m.Max.Throughput()))
			}
			phaseRow(b, label, o)
		}
		if m.SinkRejected > 0 {
			fmt.Fprintf(b, "\n%d deliveries did not verify at the destination.\n", m.SinkRejected)
		}
		b.WriteString("\n")
	}
}

func writeMemory(b *strings.Builder, r *Results) {
	mem := r.Memory
	if mem == nil {
		return
	}
	b.WriteString("## Data-plane memory\n\n")
	fmt.Fprintf(b, "`plugs controlplane` and `plugs dataplane` as separate processes (NATS in a third); resident memory "+
		"of the data plane from `/proc/<pid>/status`. %s Stripe sources, each with its own secret, were created through "+
		"the REST API in %s (%s/s), then a fresh data plane took %s to hold them all.\n\n",
		thousands(int64(mem.Sources)), roundDur(mem.Create), count(float64(mem.Sources)/mem.Create.Seconds()), roundDur(mem.Load))
	if mem.MemoryLimit != "" {
		fmt.Fprintf(b, "The data plane ran with `--memory-limit %s`, the Go heap's soft limit an operator sets for a memory "+
			"budget (in a container, the default `auto` takes 80%% of its limit).\n\n", mem.MemoryLimit)
	} else {
		b.WriteString("The data plane ran with its default `--memory-limit auto`: outside a memory-limited container, no limit.\n\n")
	}
	b.WriteString("| data plane | VmRSS | VmHWM (peak) |\n|---|---:|---:|\n")
	fmt.Fprintf(b, "| no source, idle | %s | %s |\n", mib(float64(mem.Empty.RSS)), mib(float64(mem.Empty.HWM)))
	fmt.Fprintf(b, "| %s sources, idle | %s | %s |\n", thousands(int64(mem.Sources)), mib(float64(mem.Loaded.RSS)), mib(float64(mem.Loaded.HWM)))
	if mem.Phase != nil {
		fmt.Fprintf(b, "| %s sources, under load and while deliveries caught up (highest sample) | %s | |\n", thousands(int64(mem.Sources)), mib(float64(mem.PeakRSS)))
		fmt.Fprintf(b, "| %s sources, every event delivered | %s | %s |\n", thousands(int64(mem.Sources)), mib(float64(mem.After.RSS)), mib(float64(mem.After.HWM)))
		if mem.Sources > 0 {
			fmt.Fprintf(b, "\nPer source, idle: %s.\n", bytesf(float64(mem.Loaded.RSS-mem.Empty.RSS)/float64(mem.Sources)))
		}
		if mem.One != nil {
			b.WriteString("\nThe load, first on one source, then round-robin over every source (so each source's pooled verifier state is used):\n\n")
		} else {
			b.WriteString("\nThe load, round-robin over every source (so each source's pooled verifier state is used):\n\n")
		}
		phaseHeader(b)
		if mem.One != nil {
			phaseRow(b, "Plugs, max, one source", mem.One)
		}
		phaseRow(b, "Plugs, max, all sources", mem.Phase)
		if mem.One != nil {
			fmt.Fprintf(b, "\nBoth loads ran in the same installation with the same workers, alternating in two rounds of half "+
				"the phase each (one source, all sources, one, all), each round drained before the next, so other work on the "+
				"machine weighs on both alike: spread over %s sources the data plane accepts %.2f of its one-source rate.\n",
				thousands(int64(mem.Sources)), mem.SpreadRatio())
			writeSpreadCPU(b, mem)
		}
	}
	if mem.HeapTop != "" {
		fmt.Fprintf(b, "\nWhat the data plane's Go heap holds as the load ends (`%s`):\n\n```\n%s\n```\n", mem.HeapProfile, mem.HeapTop)
	}
	b.WriteString("\n")
}

// writeSpreadCPU compares each process's CPU per accepted webhook with the
// load on one source and spread over all: where the spread load costs more.
func writeSpreadCPU(b *strings.Builder, mem *MemoryResult) {
	if len(mem.PhaseCPU.Names) == 0 || mem.OneCPU.Accepted == 0 || mem.PhaseCPU.Accepted == 0 {
		return
	}
	b.WriteString("\nCPU per accepted webhook of each process during those phases (`/proc/<pid>/stat`, drains left out):\n\n")
	b.WriteString("| process | one source | all sources | ratio |\n|---|---:|---:|---:|\n")
	var one, all time.Duration
	for _, name := range mem.PhaseCPU.Names {
		o, a := mem.OneCPU.PerWebhook(name), mem.PhaseCPU.PerWebhook(name)
		one, all = one+o, all+a
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", name, micros(o), micros(a), cpuRatio(a, o))
	}
	fmt.Fprintf(b, "| all of Plugs and NATS | %s | %s | %s |\n", micros(one), micros(all), cpuRatio(all, one))
	writeSpreadParts(b, mem)
}

// writeSpreadParts compares the data plane's CPU per accepted webhook, part
// by part, in the profiles of the last one-source and all-source rounds.
func writeSpreadParts(b *strings.Builder, mem *MemoryResult) {
	po, pa := mem.OneProfile, mem.PhaseProfile
	if po == nil || pa == nil || len(po.PlugsParts) == 0 || len(pa.PlugsParts) == 0 || mem.OneRate <= 0 || mem.PhaseRate <= 0 {
		return
	}
	per := func(p *Profiles, rate float64) map[string]time.Duration {
		out := map[string]time.Duration{}
		n := rate * p.Wall.Seconds()
		for _, s := range p.PlugsParts {
			out[s.Part] = time.Duration(float64(s.CPU) / n)
		}
		return out
	}
	one, all := per(po, mem.OneRate), per(pa, mem.PhaseRate)
	fmt.Fprintf(b, "\nThe data plane's CPU per accepted webhook by part, from its profiles of the last round of each load "+
		"(`%s`, `%s`), the parts that cost more when the load is spread first:\n\n", po.Plugs, pa.Plugs)
	b.WriteString("| part | one source | all sources | difference |\n|---|---:|---:|---:|\n")
	names := make([]string, 0, len(all))
	for _, s := range pa.PlugsParts {
		names = append(names, s.Part)
	}
	for _, s := range po.PlugsParts {
		if _, ok := all[s.Part]; !ok {
			names = append(names, s.Part)
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return all[names[i]]-one[names[i]] > all[names[j]]-one[names[j]] })
	for _, n := range names {
		fmt.Fprintf(b, "| %s | %s | %s | %+.1f µs |\n", n, micros(one[n]), micros(all[n]), float64(all[n]-one[n])/float64(time.Microsecond))
	}
	if pa.Err != nil || po.Err != nil {
		fmt.Fprintf(b, "\nProfile errors: %v %v\n", po.Err, pa.Err)
	}
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func cpuRatio(a, b time.Duration) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func writeBackbone(b *strings.Builder, r *Results) {
	bb := r.Backbone
	if bb == nil {
		return
	}
	b.WriteString("## Backbone memory per remembered event id\n\n")
	fmt.Fprintf(b, "An embedded nats-server alone in a child process, file store, default durability. %s usage events "+
		"(%d B each, encoded) over %s sources were stored through `backbone.EventStore` (publish expecting an empty "+
		"subject, per-message TTL) by %d concurrent writers in %s (%s); %d were refused as duplicates. Memory is the "+
		"child's, after a full garbage collection, minus the same reading with the streams created and empty.\n\n",
		thousands(int64(bb.IDs)), bb.EventBytes, thousands(int64(bb.Sources)), r.Config.BackboneWriters, roundDur(bb.Elapsed),
		rate(float64(bb.IDs)/bb.Elapsed.Seconds()), bb.Duplicates)
	b.WriteString("| reading | Go heap in use | per id | RSS | per id |\n|---|---:|---:|---:|---:|\n")
	for _, x := range []struct {
		name string
		h    HeapStats
	}{{"empty streams", bb.Before}, {"right after the last store", bb.After}, {"after " + roundDur(bb.Settle) + " idle", bb.Idle}} {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", x.name, mib(float64(x.h.HeapInuse)),
			bytesf(bb.PerID(int64(bb.Before.HeapInuse), int64(x.h.HeapInuse))), mib(float64(x.h.RSS)), bytesf(bb.PerID(bb.Before.RSS, x.h.RSS)))
	}
	fmt.Fprintf(b, "\nThe events stream reports %s messages in %s (%s per event); the store directory holds %s (%s per event).\n\n",
		thousands(int64(bb.Msgs)), mib(float64(bb.StreamBytes)), bytesf(float64(bb.StreamBytes)/float64(max(bb.Msgs, 1))),
		mib(float64(bb.DiskBytes)), bytesf(float64(bb.DiskBytes)/float64(max(bb.IDs, 1))))
	if bb.HeapTop != "" {
		fmt.Fprintf(b, "What holds the child's heap after the idle time (`%s`):\n\n```\n%s\n```\n\n", bb.HeapProfile, bb.HeapTop)
	}
}

func writeMicro(b *strings.Builder, ms []Micro) {
	if len(ms) == 0 {
		return
	}
	b.WriteString("## Micro benchmarks\n\nGo `testing.B` benchmarks, one run each (`go test -run '^$' -bench …`), before the load phases.\n\n")
	pkgs := map[string][]Micro{}
	var order []string
	for _, m := range ms {
		if _, ok := pkgs[m.Pkg]; !ok {
			order = append(order, m.Pkg)
		}
		pkgs[m.Pkg] = append(pkgs[m.Pkg], m)
	}
	for _, pkg := range order {
		fmt.Fprintf(b, "### %s\n\n| benchmark | runs | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---:|---|\n", strings.TrimPrefix(pkg, "github.com/plugshq/plugs/"))
		for _, m := range pkgs[pkg] {
			cell := func(unit string) string {
				if v, ok := m.Metric(unit); ok {
					return groupDigits(fmt.Sprintf("%.0f", v))
				}
				return ""
			}
			var other []string
			for _, x := range m.Metrics {
				switch x.Unit {
				case "ns/op", "B/op", "allocs/op":
				default:
					other = append(other, fmt.Sprintf("%s %s", trimFloat(x.Value), x.Unit))
				}
			}
			ns := cell("ns/op")
			if v, _ := m.Metric("ns/op"); v == 0 {
				ns = "–" // a benchmark reporting its own figures instead
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", m.Name, thousands(m.N), ns, cell("B/op"), cell("allocs/op"), strings.Join(other, ", "))
		}
		b.WriteString("\n")
	}
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return groupDigits(fmt.Sprintf("%.0f", v))
	}
	return fmt.Sprintf("%.2f", v)
}

func writeProfiles(b *strings.Builder, r *Results) {
	var modes []*ModeResult
	for _, m := range r.Modes {
		if m.Profiles != nil {
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		return
	}
	sort.SliceStable(modes, func(i, j int) bool { return modes[i].Mode < modes[j].Mode })
	b.WriteString("## CPU profiles of the max-rate phases\n\n")
	for _, m := range modes {
		p := m.Profiles
		fmt.Fprintf(b, "### %s\n\n", m.Mode)
		if p.Harness != "" {
			fmt.Fprintf(b, "- load generator, destination and bare handler: `%s`\n", p.Harness)
		}
		if p.Plugs != "" {
			fmt.Fprintf(b, "- Plugs (the data plane's pprof endpoint): `%s`\n", p.Plugs)
		} else {
			b.WriteString("- Plugs: not taken; this `plugs` binary serves no pprof endpoint (`--" + PprofFlag + "`).\n")
		}
		if p.Err != nil {
			fmt.Fprintf(b, "- errors: %s\n", p.Err)
		}
		if len(p.PlugsParts) > 0 {
			var total time.Duration
			for _, s := range p.PlugsParts {
				total += s.CPU
			}
			perTotal, per, ok := cpuPerWebhook(m)
			fmt.Fprintf(b, "\nPlugs used %.2f s of CPU in %s (%.2f of %d cores on average)", total.Seconds(), p.Wall,
				total.Seconds()/p.Wall.Seconds(), r.Machine.Cores)
			if ok {
				fmt.Fprintf(b, ", **%s per accepted webhook** (%s accepted over the profile's %s)", us(perTotal), rate(m.Max.Throughput()), p.Wall)
			}
			b.WriteString(". Where it went, each sample charged to the first part of Plugs on its stack:\n\n" +
				"| part | CPU | share | per webhook |\n|---|---:|---:|---:|\n")
			for i, s := range p.PlugsParts {
				each := "–"
				if ok {
					each = us(per[i])
				}
				fmt.Fprintf(b, "| %s | %.2f s | %.0f%% | %s |\n", s.Part, s.CPU.Seconds(), 100*s.Fraction, each)
			}
		}
		if p.PlugsTop != "" {
			fmt.Fprintf(b, "\nHeaviest functions in Plugs by their own time:\n\n```\n%s\n```\n", p.PlugsTop)
		}
		b.WriteString("\n")
	}
}

func writeRoles(b *strings.Builder, r *Results) {
	ro := r.Roles
	if ro == nil {
		return
	}
	c := r.Config.EndToEnd
	b.WriteString("## Receive-role data plane\n\n")
	fmt.Fprintf(b, "NATS (a child of the harness), `plugs controlplane`, `plugs dataplane --roles receive` (the ingest endpoint) and "+
		"`plugs dataplane --roles forward` (deliveries), each its own process, default durability, one source and one destination. "+
		"The receive-role data plane is driven at maximum rate (closed loop, %d workers, %s) and judged by its 200s against the bare "+
		"handler measured just before it; every accepted event must still reach the destination exactly once through the "+
		"forward-role data plane.", c.Workers, c.Duration)
	if ro.Max != nil && ro.Bare != nil {
		fmt.Fprintf(b, " Its maximum throughput is **%.2f** of the bare handler's (%s vs %s).", ro.Ratio(), rate(ro.Max.Throughput()), rate(ro.Bare.Throughput()))
	}
	b.WriteString("\n\n")
	phaseHeader(b)
	if ro.Bare != nil {
		phaseRow(b, "bare handler", ro.Bare)
	}
	if ro.Max != nil {
		phaseRow(b, "receive role, max", ro.Max)
	}
	if ro.SinkRejected > 0 {
		fmt.Fprintf(b, "\n%d deliveries did not verify at the destination.\n", ro.SinkRejected)
	}
	b.WriteString("\n")
}
