package receipts

import (
	"context"
	"time"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
)

// pruneLoop deletes expired receipts at start and then every
// RetentionEvery. Every replica runs it; deleting what another replica
// already deleted costs one empty query.
func (ix *Indexer) pruneLoop(ctx context.Context) {
	every := ix.RetentionEvery
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	for {
		n, err := ix.Prune(ctx, time.Now().Add(-ix.retention()))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			ix.log().Warn("expired receipts not deleted; trying again at the next run", "deleted", n, "error", err)
		case n > 0:
			ix.log().Info("expired receipts deleted", "deleted", n, "retention", ix.retention())
		}
		if !sleep(ctx, every) {
			return
		}
	}
}

func (ix *Indexer) retention() time.Duration {
	if ix.Retention > 0 {
		return ix.Retention
	}
	return backbone.DefaultReceiptRetention
}

// Prune deletes the receipts received before cutoff and returns how many
// it deleted. It deletes PruneBatchSize rows per statement, oldest first, so a
// large backlog never becomes one long transaction holding locks on a
// table the indexer is writing to.
func (ix *Indexer) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	ctx = viewer.System(ctx)
	// Stored times are UTC; SQLite compares them as text.
	cutoff = cutoff.UTC()
	size := ix.PruneBatchSize
	if size <= 0 {
		size = DefaultPruneBatchSize
	}
	total := 0
	for {
		ids, err := ix.Client.Receipt.Query().
			Where(receipt.ReceiveTimeLT(cutoff)).
			Order(receipt.ByReceiveTime()).
			Limit(size).
			IDs(ctx)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := ix.Client.Receipt.Delete().Where(receipt.IDIn(ids...)).Exec(ctx)
		total += n
		if err != nil || len(ids) < size {
			return total, err
		}
	}
}
