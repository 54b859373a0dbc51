package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent/deliveryrollup"
	"github.com/plugshq/plugs/ent/viewer"
)

// Upgrading to the release with the stats rollups counts the receipts and
// delivery attempts indexed before it, minute by minute, in the format the
// rollups are read in.
func TestRollupsBackfilledOnUpgrade(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			dbURL, dir := storetest.URL(t, d)
			old, err := store.Connect(ctx, dbURL, dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.MigrateBefore(ctx, old.SQL, old.Dialect, "stats_rollups"); err != nil {
				t.Fatal(err)
			}
			tenant, src, dest := uuid.New(), uuid.New(), uuid.New()
			minute := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
			q := func(s string) string {
				if old.Dialect == "postgres" {
					for i := 1; i <= 6; i++ {
						s = strings.Replace(s, "?", fmt.Sprintf("$%d", i), 1)
					}
				}
				return s
			}
			receipt := func(at time.Time, outcome, cause string) {
				_, err := old.SQL.ExecContext(ctx, q(`INSERT INTO receipts (id, tenant_id, source_id, receive_time, outcome, cause) VALUES (?, ?, ?, ?, ?, ?)`),
					uuid.New(), tenant, src, at, outcome, cause)
				if err != nil {
					t.Fatal(err)
				}
			}
			receipt(minute.Add(1500*time.Millisecond), "accepted", "")
			receipt(minute.Add(59*time.Second+999*time.Millisecond), "accepted", "")
			receipt(minute.Add(20*time.Second), "rejected", "signature_invalid")
			receipt(minute.Add(time.Minute), "accepted", "")
			_, err = old.SQL.ExecContext(ctx, q(`INSERT INTO delivery_attempts (id, tenant_id, destination_id, attempt_time, outcome) VALUES (?, ?, ?, ?, ?)`),
				uuid.New(), tenant, dest, minute.Add(30*time.Second), "delivered")
			if err != nil {
				t.Fatal(err)
			}
			old.Close()

			db, err := store.Open(ctx, dbURL, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			sys := viewer.System(ctx)
			sums, err := stats.ReceiptMinutes(sys, db.Client, minute.Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, s := range sums {
				got[fmt.Sprintf("%s %s %s", s.Minute.Format(time.RFC3339), s.Outcome, s.Cause)] = s.Count
			}
			want := map[string]int64{
				minute.Format(time.RFC3339) + " accepted ":                  2,
				minute.Format(time.RFC3339) + " rejected signature_invalid": 1,
				minute.Add(time.Minute).Format(time.RFC3339) + " accepted ": 1,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("backfilled %v, want %v", got, want)
			}
			// Counted on from there, into the same rows.
			if err := (stats.ReceiptCounts{{TenantID: tenant, SourceID: src, Minute: minute, Outcome: "accepted"}: 3}).Save(sys, db.Client); err != nil {
				t.Fatal(err)
			}
			sums, _ = stats.SourceTotals(sys, db.Client, minute, []uuid.UUID{src})
			accepted := int64(0)
			for _, s := range sums {
				if s.Outcome == "accepted" {
					accepted = s.Count
				}
			}
			if accepted != 6 {
				t.Fatalf("accepted %d after counting on, want 6 (the backfilled row was not the one added to)", accepted)
			}
			n, err := db.Client.DeliveryRollup.Query().Where(deliveryrollup.DestinationID(dest), deliveryrollup.MinuteEQ(minute)).Only(sys)
			if err != nil || n.Count != 1 || n.Outcome != "delivered" {
				t.Fatalf("delivery rollup %v %v", n, err)
			}
		})
	}
}
