package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plugshq/plugs/internal/metrics"
)

// dashboardFile is the Grafana dashboard of the planes' series.
const dashboardFile = "../../deploy/grafana/plugs.json"

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// dashboardQueries reads every PromQL expression of the dashboard, its
// variables' queries included, by where it is.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string           `json:"uid"`
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no uid or no panels", dashboardFile)
	}
	out := map[string]string{}
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				out[p.Title+" "+q.RefID] = q.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out["variable "+v.Name] = v.Definition
		}
	}
	return out
}

var (
	// Label matchers, strings, ranges and Grafana variables hold no
	// series names.
	promStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promVars     = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	// by (…), without (…), on (…), ignoring (…) and group_left (…) list
	// labels.
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// label_values(series, label) names a label second.
	promLabelValues = regexp.MustCompile(`label_values\(\s*([^,()]+),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)`)
	promDurations   = regexp.MustCompile(`\b[0-9]+(ms|s|m|h|d|w|y)\b`)
	promIdent       = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	promNumber      = regexp.MustCompile(`^[0-9.eE+-]+$`)
	promKeywords    = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"}
)

// seriesNames returns the series a PromQL expression reads: identifiers
// that are neither functions, keywords nor labels.
func seriesNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promLabelValues.ReplaceAllString(e, "($1)")
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promVars.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = promDurations.ReplaceAllString(e, " ")
	var names []string
	for _, m := range promIdent.FindAllString(e, -1) {
		if strings.HasSuffix(m, "(") || slices.Contains(promKeywords, strings.ToLower(m)) || promNumber.MatchString(m) {
			continue // a function call, an aggregation, a keyword
		}
		names = append(names, m)
	}
	return names
}

// Every query of the Grafana dashboard reads series the planes export, by
// the names the code registers (a histogram's _bucket, _sum and _count
// included), so a renamed series breaks this test rather than a panel.
func TestDashboardQueriesExportedSeries(t *testing.T) {
	known := map[string]bool{}
	for _, n := range exported(t) {
		known[n] = true
	}
	fams, err := metrics.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		known[f.GetName()] = true // go_* and process_*
	}
	exists := func(name string) bool {
		if known[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	for where, expr := range dashboardQueries(t) {
		names := seriesNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q reads no series", where, expr)
		}
		for _, n := range names {
			if !exists(n) {
				t.Errorf("%s: %q reads %s, which neither plane exports", where, expr, n)
			}
			used[strings.TrimSuffix(n, "_bucket")] = true
		}
	}
	// What an operator watches first, each on a panel.
	for _, want := range []string{
		"plugs_ingest_requests_total",           // webhooks by outcome and cause
		"plugs_ingest_step_duration_seconds",    // latency per step
		"plugs_dedup_hits_total",                // dedup hits
		"plugs_forward_attempts_total",          // deliveries by result
		"plugs_dead_letters",                    // dead-letter depth
		"plugs_consumer_pending",                // consumer lag
		"plugs_config_version",                  // data-plane configuration versions
		"plugs_controlplane_config_revision",    // against the control plane's
		"plugs_ingest_request_duration_seconds", // request latency
	} {
		if !used[want] {
			t.Errorf("no panel reads %s", want)
		}
	}
}

// The query reader finds series and nothing else.
func TestSeriesNames(t *testing.T) {
	for expr, want := range map[string]string{
		`histogram_quantile(0.99, sum by (le, step) (rate(plugs_ingest_step_duration_seconds_bucket{step=~"$s"}[$__rate_interval])))`: "plugs_ingest_step_duration_seconds_bucket",
		`max by (consumer) (plugs_consumer_pending) / on (instance) group_left (pod) up`:                                              "plugs_consumer_pending up",
		`sum without (source) (rate(a_total{x="by (y)"}[5m] offset 1h)) > bool 0 and b`:                                               "a_total b",
		`label_values(plugs_ingest_requests_total, source)`:                                                                           "plugs_ingest_requests_total",
	} {
		if got := strings.Join(seriesNames(expr), " "); got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
