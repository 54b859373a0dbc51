package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plugshq/plugs/controlplane/server"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/metrics/metricstest"
)

// Calls over gRPC and REST are counted by method and code, refused ones
// included, and the replica's revision and data planes are shown.
func TestControlPlaneMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	e := startEnvWith(t, "sqlite", func(c *server.Config) { c.Metrics = reg })
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

	fams := metricstest.Scrape(t, "http://"+e.srv.HTTPAddr+"/metrics")
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
	if rev := fams["plugs_controlplane_config_revision"]; rev == nil || rev.Sum(nil) < 1 {
		t.Errorf("config revision gauge %v after a create", rev)
	}
	if fams["plugs_controlplane_dataplanes_connected"] == nil {
		t.Error("no data planes gauge")
	}
	// No API key is needed to scrape, and no secret or key appears.
	resp, err := http.Get("http://" + e.srv.HTTPAddr + "/metrics")
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
