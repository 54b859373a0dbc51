package receipts_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent/receiptrollup"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// TestRollupCountsEachReceiptOnce: receipts stored twice, in one batch or
// in two, count once in the per-minute rollup, and the retention job
// removes the minutes it removes the receipts of.
func TestRollupCountsEachReceiptOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, false)
		ctx := context.Background()
		tenant, src := uuid.New(), uuid.New()
		now := time.Now().UTC()
		row := func(at time.Time, outcome plugsv1.Receipt_Outcome, cause string) receipts.Row {
			r := newReceipt(tenant, src, at)
			r.Outcome, r.Cause = outcome, cause
			out, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r), now)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		old := row(now.Add(-40*24*time.Hour), plugsv1.Receipt_OUTCOME_ACCEPTED, "")
		a := row(now, plugsv1.Receipt_OUTCOME_ACCEPTED, "")
		b := row(now, plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid")
		c := row(now, plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid")
		if err := receipts.Insert(ctx, w.db, old, a, b, a); err != nil {
			t.Fatal(err)
		}
		if err := receipts.Insert(ctx, w.db, b, c); err != nil {
			t.Fatal(err)
		}
		counts := func() map[string]int64 {
			rows, err := w.db.Client.ReceiptRollup.Query().All(viewer.System(ctx))
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int64{}
			for _, r := range rows {
				if r.TenantID != tenant || r.SourceID != src {
					t.Errorf("rollup row of tenant %v source %v", r.TenantID, r.SourceID)
				}
				out[r.Minute.UTC().Format(time.RFC3339)+" "+r.Outcome+" "+r.Cause] += r.Count
			}
			return out
		}
		minute := now.Truncate(time.Minute).Format(time.RFC3339)
		oldMinute := old.ReceiveTime.Truncate(time.Minute).Format(time.RFC3339)
		want := map[string]int64{
			oldMinute + " accepted ":               1,
			minute + " accepted ":                  1,
			minute + " rejected signature_invalid": 2,
		}
		if got := counts(); !maps.Equal(got, want) {
			t.Fatalf("rollup %v, want %v", got, want)
		}
		ix := &receipts.Indexer{DB: w.db, Settings: streamindex.Settings{PruneBatchSize: 10}, Log: w.log()}
		if _, err := ix.Prune(ctx, now.Add(-backbone.DefaultReceiptRetention)); err != nil {
			t.Fatal(err)
		}
		delete(want, oldMinute+" accepted ")
		if got := counts(); !maps.Equal(got, want) {
			t.Fatalf("rollup after retention %v, want %v", got, want)
		}
		n, err := w.db.Client.ReceiptRollup.Query().Where(receiptrollup.SourceID(src)).Count(viewer.System(ctx))
		if err != nil || n != 2 {
			t.Fatalf("%d rollup rows (%v), want 2", n, err)
		}
	})
}
