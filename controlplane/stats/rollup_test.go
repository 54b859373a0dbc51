package stats_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

// TestSaveAddsEachRowsOwnCount: one Save spread over many sources and
// outcomes, more rows than one statement takes, adds each row's own count
// to what is stored, on every dialect.
func TestSaveAddsEachRowsOwnCount(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			db := storetest.Open(t, dialect)
			ctx := viewer.System(context.Background())
			tenant, dest := uuid.New(), uuid.New()
			now := time.Now()
			sources := make([]uuid.UUID, 1500)
			receipts, deliveries := stats.ReceiptCounts{}, stats.DeliveryCounts{}
			for i := range sources {
				sources[i] = uuid.New()
				for range i%3 + 1 {
					receipts.Add(tenant, sources[i], now, "accepted", "")
				}
				receipts.Add(tenant, sources[i], now, "rejected", "signature_invalid")
			}
			deliveries.Add(tenant, dest, now, "delivered")
			deliveries.Add(tenant, dest, now, "delivered")
			deliveries.Add(tenant, dest, now, "retrying")
			for range 2 {
				if err := store.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
					if err := receipts.Save(ctx, tx.Client()); err != nil {
						return err
					}
					return deliveries.Save(ctx, tx.Client())
				}); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := db.Client.ReceiptRollup.Query().All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2*len(sources) {
				t.Fatalf("%d receipt rollup rows, want %d", len(rows), 2*len(sources))
			}
			index := map[uuid.UUID]int{}
			for i, s := range sources {
				index[s] = i
			}
			for _, r := range rows {
				want := int64(2)
				if r.Outcome == "accepted" {
					want = 2 * int64(index[r.SourceID]%3+1)
				}
				if r.Count != want {
					t.Fatalf("source %d %s: count %d, want %d", index[r.SourceID], r.Outcome, r.Count, want)
				}
			}
			drows, err := db.Client.DeliveryRollup.Query().All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, r := range drows {
				got[r.Outcome] += r.Count
			}
			if len(drows) != 2 || got["delivered"] != 4 || got["retrying"] != 2 {
				t.Fatalf("delivery rollup %v in %d rows", got, len(drows))
			}
		})
	}
}
