package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plugshq/plugs/internal/metrics"
)

// collecting is a Registerer that keeps what is registered on it.
type collecting struct{ collectors []prometheus.Collector }

func (c *collecting) Register(col prometheus.Collector) error {
	c.collectors = append(c.collectors, col)
	return nil
}

func (c *collecting) MustRegister(cols ...prometheus.Collector) {
	c.collectors = append(c.collectors, cols...)
}

func (c *collecting) Unregister(prometheus.Collector) bool { return false }

// fqName reads a series' name from its description: Desc has no getter.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exported is every series name the data plane's and the control plane's
// sets describe, whether or not anything was counted yet.
func exported(t *testing.T) []string {
	t.Helper()
	reg := &collecting{}
	dp := metrics.NewDataPlane(reg)
	dp.WatchSpools(reg, map[string]metrics.Spool{"receipts": spool{}, "attempts": spool{}})
	metrics.NewControlPlane(reg, metrics.ControlPlaneState{Revision: func() int64 { return 0 }, DataPlanes: func() int { return 0 },
		Withheld: func() (int, int) { return 0, 0 }})
	seen := map[string]bool{}
	for _, c := range reg.collectors {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			seen[m[1]] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

type spool struct{}

func (spool) Dropped() int64   { return 0 }
func (spool) Published() int64 { return 0 }
func (spool) Messages() int64  { return 0 }

// documented is every series name in the metrics table of
// docs/operations.md, labels left out.
func documented(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	// The table starts at its header row and ends at the first line that
	// is no row.
	var names []string
	name := regexp.MustCompile("`([a-z_:]+)(\\{[^}]*\\})?`")
	inTable := false
	for _, line := range strings.Split(string(b), "\n") {
		row := strings.TrimSpace(line)
		switch {
		case row == "| series | what |":
			inTable = true
		case inTable && !strings.HasPrefix(row, "|"):
			inTable = false
		case inTable:
			series, _, _ := strings.Cut(strings.TrimPrefix(row, "|"), " | ")
			for _, n := range name.FindAllStringSubmatch(series, -1) {
				names = append(names, n[1])
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no metrics table (| series | what |) in docs/operations.md")
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// The metrics table of docs/operations.md names, in full, exactly the
// series Plugs exports (besides the Go runtime's and the process's).
func TestOperationsDocNamesEverySeries(t *testing.T) {
	want, got := exported(t), documented(t)
	for _, n := range want {
		if !slices.Contains(got, n) {
			t.Errorf("%s is exported but not in docs/operations.md", n)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			t.Errorf("docs/operations.md documents %s, which is not exported", n)
		}
	}
}
