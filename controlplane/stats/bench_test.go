package stats_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

// BenchmarkOverviewDay reads a tenant's day of webhooks per minute when each
// of 20 sources saw accepted and rejected webhooks in every minute: 57,600
// rollup rows, the most a day of those sources can hold, whether they
// counted a thousand receipts or ten million. This is what the overview
// costs per page load; it does not grow with the receipts.
func BenchmarkOverviewDay(b *testing.B) {
	db := storetest.Open(b, "sqlite")
	ctx := viewer.System(context.Background())
	tenant := uuid.New()
	start, _ := stats.LastDay(time.Now())
	var rows []*ent.ReceiptRollupCreate
	flush := func() {
		if err := db.Client.ReceiptRollup.CreateBulk(rows...).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for range 20 {
		src := uuid.New()
		for m := range 1440 {
			minute := start.Add(time.Duration(m) * time.Minute)
			rows = append(rows,
				db.Client.ReceiptRollup.Create().SetTenantID(tenant).SetSourceID(src).SetMinute(minute).SetOutcome("accepted").SetCount(700),
				db.Client.ReceiptRollup.Create().SetTenantID(tenant).SetSourceID(src).SetMinute(minute).SetOutcome("rejected").SetCause("signature_invalid").SetCount(3),
			)
			if len(rows) >= 500 {
				flush()
			}
		}
	}
	flush()
	tctx := viewer.NewContext(context.Background(), viewer.Viewer{TenantID: tenant})
	b.ResetTimer()
	for b.Loop() {
		sums, err := stats.ReceiptMinutes(tctx, db.Client, start)
		if err != nil || len(sums) != 2*1440 {
			b.Fatalf("%d sums, %v", len(sums), err)
		}
	}
}
