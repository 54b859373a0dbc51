package receipts

import (
	"context"
	"time"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
)

// PruneBatch deletes at most n receipts received before cutoff, oldest
// first, and the rollup minutes that ended before it.
func (t table) PruneBatch(ctx context.Context, cutoff time.Time, n int) (int, bool, error) {
	ctx = viewer.System(ctx)
	if _, err := stats.PruneReceipts(ctx, t.c, cutoff); err != nil {
		return 0, false, err
	}
	ids, err := t.c.Receipt.Query().
		Where(receipt.ReceiveTimeLT(cutoff)).
		Order(receipt.ByReceiveTime()).
		Limit(n).
		IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	deleted, err := t.c.Receipt.Delete().Where(receipt.IDIn(ids...)).Exec(ctx)
	return deleted, len(ids) == n, err
}
