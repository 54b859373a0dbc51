package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/dataplane"
	"github.com/plugshq/plugs/ent/viewer"
)

// runDataPlanes lists the data planes with all the control planes know of
// them, for operators: node names, builds, replicas and why a version was
// rejected are infrastructure that tenants' API keys do not show, so it
// reads the database directly, as `plugs tokens create --tenant` does.
func runDataPlanes(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("dataplanes", "[flags]", `
Lists the data planes seen in the last day with their node names, builds,
replicas and rejected versions, as an operator, directly from the database.`)
	var cp cpFlags
	cp.registerStore(cl.settings, "./.plugs", false)
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	db, err := store.Open(ctx, cp.databaseURL, cp.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	sys := viewer.System(ctx)
	rev, err := store.Current(sys, db.Client)
	if err != nil {
		return err
	}
	rows, err := db.Client.DataPlane.Query().
		Where(dataplane.LastSeenTimeGT(time.Now().Add(-24*time.Hour))).
		Order(ent.Desc(dataplane.FieldConnected), ent.Asc(dataplane.FieldID)).
		All(sys)
	if err != nil {
		return fmt.Errorf("data planes: %w", err)
	}
	fmt.Fprintf(stdout, "current version %d; data planes seen in the last day:\n\n", rev)
	live := time.Now().Add(-api.LiveWindow)
	version := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	table := make([][]string, len(rows))
	for i, r := range rows {
		table[i] = []string{
			r.ID, r.Zone, r.Build, r.Replica, strconv.FormatBool(r.Connected && r.LastSeenTime.After(live)),
			version(r.AckedRevision), version(r.NackRevision), r.NackError, r.LastSeenTime.UTC().Format(time.RFC3339),
		}
	}
	return writeTable(stdout, []string{"NODE", "ZONE", "BUILD", "REPLICA", "CONNECTED", "ACKED", "REJECTED", "REJECTED BECAUSE", "LAST SEEN"}, table)
}
