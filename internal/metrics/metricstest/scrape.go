// Package metricstest reads a /metrics page in tests.
package metricstest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Family is a scraped metric family.
type Family struct{ *dto.MetricFamily }

// Scrape reads the page at url into its families, failing the test when it
// cannot be fetched or parsed.
func Scrape(t testing.TB, url string) map[string]*Family {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%s does not parse: %v", url, err)
	}
	out := make(map[string]*Family, len(fams))
	for name, f := range fams {
		out[name] = &Family{f}
	}
	return out
}

// Sum adds the values of the series whose labels include want: counters,
// gauges, and histogram sample counts. A nil family sums to 0.
func (f *Family) Sum(want map[string]string) float64 {
	if f == nil {
		return 0
	}
	var total float64
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}
