package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/ent/viewer"
)

// The operator's list shows what tenants do not see: node names, builds,
// replicas and why a version was rejected.
func TestDataPlanesForOperators(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	db.Client.DataPlane.Create().SetID("edge-7").SetZone("eu-west-1a").SetBuild("v1.2.3").SetReplica("cp-1").
		SetConnected(true).SetConnectTime(now).SetLastSeenTime(now).SetAckedRevision(4).
		SetNackRevision(5).SetNackError("mapping does not compile").SetNackTime(now).
		ExecX(viewer.System(ctx))
	db.Client.DataPlane.Create().SetID("edge-old").SetConnectTime(now.Add(-72 * time.Hour)).
		SetLastSeenTime(now.Add(-48 * time.Hour)).ExecX(viewer.System(ctx))
	db.Close()

	var out bytes.Buffer
	if err := runDataPlanes(ctx, []string{"--data-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"current version 0", "edge-7", "eu-west-1a", "v1.2.3", "cp-1", "true", "mapping does not compile"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "edge-old") {
		t.Errorf("a data plane unseen for two days is listed:\n%s", out.String())
	}
	if err := runDataPlanes(ctx, []string{"--data-dir", dir, "extra"}, &out); err == nil {
		t.Error("an argument was accepted")
	}
}
