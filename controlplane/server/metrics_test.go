package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/controlplane/server"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/metrics/metricstest"
)

// Calls over gRPC and REST are counted by method and code, refused ones
// included, and the replica's revision and data planes are shown.
func TestControlPlaneMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	e := startEnvWith(t, "sqlite", func(c *server.Config) { c.Metrics, c.MetricsAddr = reg, "127.0.0.1:0" })
	for range 3 {
		if _, err := e.sources().ListSources(as(e.keyA), &plugsv1.ListSourcesRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := e.rest("GET", "/v1/sources", e.keyA, ""); code != http.StatusOK {
		t.Fatalf("REST list: %d", code)
	}
	_, _ = e.sources().ListSources(as("plugs_wrong"), &plugsv1.ListSourcesRequest{})
	if _, err := e.sources().CreateSource(as(e.keyA), newSource("s", secretA)); err != nil {
		t.Fatal(err)
	}

	fams := metricstest.Scrape(t, "http://"+e.srv.MetricsAddr+"/metrics")
	handled := fams["grpc_server_handled_total"]
	if handled == nil {
		t.Fatal("no grpc_server_handled_total")
	}
	if got := handled.Sum(map[string]string{"grpc_method": "ListSources", "grpc_code": "OK"}); got != 4 {
		t.Errorf("ListSources OK counted %v, want 4 (3 gRPC, 1 REST)", got)
	}
	if got := handled.Sum(map[string]string{"grpc_method": "ListSources", "grpc_code": "Unauthenticated"}); got != 1 {
		t.Errorf("ListSources Unauthenticated counted %v, want 1", got)
	}
	if fams["grpc_server_handling_seconds"] == nil {
		t.Error("no handling-time histogram")
	}
	// The replica's cache follows the commit on its own: poll for it.
	for deadline := time.Now().Add(20 * time.Second); ; {
		rev := fams["plugs_controlplane_config_revision"]
		if rev != nil && rev.Sum(nil) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("config revision gauge %v after a create", rev)
		}
		time.Sleep(20 * time.Millisecond)
		fams = metricstest.Scrape(t, "http://"+e.srv.MetricsAddr+"/metrics")
	}
	if fams["plugs_controlplane_dataplanes_connected"] == nil {
		t.Error("no data planes gauge")
	}
	// No API key is needed to scrape, and no secret or key appears.
	resp, err := http.Get("http://" + e.srv.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{e.keyA, secretA} {
		if strings.Contains(string(b), s) {
			t.Fatalf("/metrics shows %q", s)
		}
	}
}

// The API's REST port does not serve the series: without a key there they
// would be open to every caller of the API. Only plugs dev asks for them
// there.
func TestMetricsStayOffTheAPI(t *testing.T) {
	e := startEnvWith(t, "sqlite", func(c *server.Config) { c.Metrics, c.MetricsAddr = metrics.NewRegistry(), "127.0.0.1:0" })
	for _, key := range []string{"", e.keyA} {
		if code, body := e.rest("GET", "/metrics", key, ""); code != http.StatusNotFound || strings.Contains(string(body), "grpc_server_handled_total") {
			t.Errorf("REST /metrics with key %q: %d %.80s", key, code, body)
		}
	}
	if code, _ := e.rest("GET", "/healthz", "", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}

	dev := startEnvWith(t, "sqlite", func(c *server.Config) { c.Metrics, c.MetricsOnREST = metrics.NewRegistry(), true })
	if dev.srv.MetricsAddr != "" {
		t.Errorf("a metrics listener at %s without MetricsAddr", dev.srv.MetricsAddr)
	}
	if fams := metricstest.Scrape(t, "http://"+dev.srv.HTTPAddr+"/metrics"); fams["plugs_controlplane_config_revision"] == nil {
		t.Error("plugs dev's REST /metrics lacks the control plane's series")
	}
}
