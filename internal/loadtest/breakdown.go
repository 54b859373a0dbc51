package loadtest

import (
	"bufio"
	"context"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Share is the CPU time a profile charges to one part of Plugs.
type Share struct {
	Part     string
	CPU      time.Duration
	Fraction float64
}

// parts are what a CPU sample is charged to: the first part, in this
// order, that any frame of the sample's stack belongs to. The steps of the
// ingest path come before the pipeline that calls them, so the pipeline's
// line is what is left; the servers and the runtime come last, so that
// only work no Plugs code asked for lands there.
var parts = []struct {
	name  string
	match []string
}{
	{"control plane (receipt index, delivery log, configuration; in plugs dev only)", []string{"/plugs/controlplane/", "/plugs/ent."}},
	{"forwarder (route, encode, sign, POST, acknowledge)", []string{"/plugs/dataplane/forward."}},
	{"receipts (build, publish)", []string{"/plugs/dataplane/receipts."}},
	{"ingest: store the event in JetStream (client side)", []string{"/plugs/backbone.(*EventStore)"}},
	{"ingest: verify the signature", []string{"/plugs/dataplane/verify."}},
	{"ingest: read the JSON, filter, map", []string{"/plugs/dataplane/payload.", "/plugs/dataplane/mapping."}},
	{"ingest: rest of the pipeline and receiver", []string{"/plugs/dataplane/pipeline.", "/plugs/dataplane/receiver."}},
	{"HTTP server (connections, requests, answers)", []string{"net/http."}},
	{"embedded NATS server", []string{"nats-server/"}},
	{"NATS client I/O", []string{"nats-io/nats"}},
	{"garbage collector", []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"}},
}

// partOther is where the rest is charged.
const partOther = "other (runtime, scheduler, idle polling)"

// Breakdown charges every sample of a CPU profile, as `go tool pprof
// -traces` prints them, to a part of Plugs, largest first.
func Breakdown(traces string) []Share {
	byPart := map[string]time.Duration{}
	var total time.Duration
	var value time.Duration
	var frames []string
	flush := func() {
		if value > 0 {
			byPart[partOf(frames)] += value
			total += value
		}
		value, frames = 0, frames[:0]
	}
	sc := bufio.NewScanner(strings.NewReader(traces))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// A sample's first line is its value and the leaf frame; the
		// following lines are its callers.
		if len(f) >= 2 && len(frames) == 0 && value == 0 {
			if d, err := time.ParseDuration(f[0]); err == nil {
				value = d
				frames = append(frames, f[1])
				continue
			}
		}
		if value > 0 {
			frames = append(frames, f[0])
		}
	}
	flush()
	out := make([]Share, 0, len(byPart))
	for p, d := range byPart {
		out = append(out, Share{Part: p, CPU: d, Fraction: float64(d) / float64(max(total, 1))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CPU > out[j].CPU })
	return out
}

func partOf(frames []string) string {
	for _, p := range parts {
		for _, f := range frames {
			for _, m := range p.match {
				if strings.Contains(f, m) {
					return p.name
				}
			}
		}
	}
	return partOther
}

// profileBreakdown runs `go tool pprof -traces` on a profile and charges
// its samples; nil when the tool is not at hand.
func profileBreakdown(ctx context.Context, path string) []Share {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return nil
	}
	return Breakdown(string(out))
}
