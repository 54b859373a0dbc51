package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent/dataplane"
	"github.com/plugshq/plugs/ent/tenant"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A tenant sees of the shared data planes whether each is connected and
// which version it runs or rejected, against its own newest change: no node
// names, builds or control-plane hosts, no rejection text (it may quote
// another tenant's configuration), and not the other tenant's newer
// version.
func TestTenantViewOfDataPlanes(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testTenantViewOfDataPlanes(t, d) })
	}
}

func testTenantViewOfDataPlanes(t *testing.T, dialect string) {
	var db *store.DB
	e := startEnvWith(t, dialect, func(c *server.Config) { db = c.DB })
	a, b := as(e.keyA), as(e.keyB)
	dps := plugsv1.NewDataPlaneServiceClient(e.conn)

	// Before any change of its own, a tenant has no current version.
	resp, err := dps.ListDataPlanes(a, &plugsv1.ListDataPlanesRequest{})
	if err != nil || resp.GetCurrentVersion() != "" || len(resp.GetDataPlanes()) != 0 {
		t.Fatalf("a fresh tenant: %v %v", resp, err)
	}

	srcA, err := e.sources().CreateSource(a, newSource("a's", secretA))
	if err != nil {
		t.Fatal(err)
	}
	srcB, err := e.sources().CreateSource(b, newSource("b's", secretA))
	if err != nil {
		t.Fatal(err)
	}
	// B's newer change is rejected by one data plane, with a text naming
	// B's source; the other runs A's revision only.
	sys := viewer.System(context.Background())
	now := time.Now().UTC()
	secretText := "source " + srcB.GetId() + ": mapping of tenant b does not compile"
	nodes := []struct {
		id                    string
		acked, nack           int64
		connected             bool
		build, replica, error string
	}{
		{"edge-7.pod.cluster.internal", srcA.GetRevision(), srcB.GetRevision(), true, "build-9f3e", "cp-host-42.internal", secretText},
		{"edge-8.pod.cluster.internal", srcB.GetRevision(), 0, true, "build-9f3e", "cp-host-43.internal", ""},
		{"edge-9.pod.cluster.internal", srcA.GetRevision() - 1, 0, false, "build-9f3e", "cp-host-43.internal", ""},
	}
	for _, n := range nodes {
		c := db.Client.DataPlane.Create().SetID(n.id).SetZone("eu-west-1a").SetBuild(n.build).SetReplica(n.replica).
			SetConnected(n.connected).SetConnectTime(now).SetLastSeenTime(now).SetAckedRevision(n.acked)
		if n.nack > 0 {
			c.SetNackRevision(n.nack).SetNackError(n.error).SetNackTime(now)
		}
		if err := c.Exec(sys); err != nil {
			t.Fatal(err)
		}
	}

	hidden := []string{"edge-7", "edge-8", "edge-9", "cluster.internal", "build-9f3e", "cp-host", secretText, "mapping of tenant b"}
	for _, c := range []struct {
		name    string
		key     string
		current int64
	}{{"a", e.keyA, srcA.GetRevision()}, {"b", e.keyB, srcB.GetRevision()}} {
		resp, err := dps.ListDataPlanes(as(c.key), &plugsv1.ListDataPlanesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCurrentVersion() != fmt.Sprint(c.current) {
			t.Errorf("tenant %s: current version %q, want its own newest change %d", c.name, resp.GetCurrentVersion(), c.current)
		}
		if len(resp.GetDataPlanes()) != 3 {
			t.Fatalf("tenant %s sees %d data planes, want 3", c.name, len(resp.GetDataPlanes()))
		}
		// Connected ones first; the versions each took or rejected.
		first := resp.GetDataPlanes()[0]
		if !first.GetConnected() || first.GetAckedVersion() != fmt.Sprint(srcA.GetRevision()) ||
			first.GetNackVersion() != fmt.Sprint(srcB.GetRevision()) || first.GetNackTime() == nil || first.GetZone() != "eu-west-1a" {
			t.Errorf("tenant %s: first data plane %v", c.name, first)
		}
		if last := resp.GetDataPlanes()[2]; last.GetConnected() || last.GetAckedVersion() != fmt.Sprint(srcA.GetRevision()-1) {
			t.Errorf("tenant %s: last data plane %v", c.name, last)
		}
		for _, dp := range resp.GetDataPlanes() {
			if dp.GetNodeId() != "" || dp.GetBuild() != "" || dp.GetReplica() != "" || dp.GetNackError() != "" {
				t.Errorf("tenant %s sees %v", c.name, dp)
			}
		}
		js, _ := protojson.Marshal(resp)
		code, body := e.rest("GET", "/v1/dataplanes", c.key, "")
		if code != http.StatusOK {
			t.Fatalf("REST: %d %s", code, body)
		}
		for _, h := range hidden {
			if strings.Contains(string(js), h) || strings.Contains(string(body), h) {
				t.Errorf("tenant %s sees %q: %s", c.name, h, body)
			}
		}
	}

	// Paging by position, without node ids in the tokens.
	var seen int
	tok := ""
	for {
		page, err := dps.ListDataPlanes(a, &plugsv1.ListDataPlanesRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.GetDataPlanes())
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
		if strings.Contains(tok, "edge") {
			t.Fatalf("page token %q", tok)
		}
	}
	if seen != 3 {
		t.Errorf("pages held %d data planes, want 3", seen)
	}
	_, err = dps.ListDataPlanes(a, &plugsv1.ListDataPlanesRequest{PageToken: "djE6ZWRnZS03"}) // "v1:edge-7"
	wantCode(t, err, codes.InvalidArgument)

	// The ORM itself keeps the operator's columns from a tenant.
	tenantA := tenantOf(t, db, "tenant-a")
	rows, err := db.Client.DataPlane.Query().All(tenantA)
	if err != nil || len(rows) != 3 {
		t.Fatalf("tenant query: %v %v", rows, err)
	}
	for _, r := range rows {
		if r.Build != "" || r.Replica != "" || r.NackError != "" {
			t.Errorf("a tenant's query read %+v", r)
		}
	}
	if _, err := db.Client.DataPlane.Query().Select(dataplane.FieldReplica).Strings(tenantA); err == nil {
		t.Error("a tenant selected the replica column")
	}
	if _, err := db.Client.DataPlane.Query().IDs(tenantA); err == nil {
		t.Error("a tenant read the node ids")
	}
}

// tenantOf is a context acting as the tenant named name.
func tenantOf(t *testing.T, db *store.DB, name string) context.Context {
	t.Helper()
	ctx := context.Background()
	tn, err := db.Client.Tenant.Query().Where(tenant.Name(name)).Only(viewer.System(ctx))
	if err != nil {
		t.Fatal(err)
	}
	return viewer.ForTenant(ctx, tn.ID)
}
