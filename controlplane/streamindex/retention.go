package streamindex

import (
	"context"
	"time"
)

// pruneLoop deletes expired rows at start and then every RetentionEvery,
// and then the oldest rows past the byte limits. Every replica runs it;
// deleting what another replica already deleted costs one empty query.
func (ix *Indexer[R]) pruneLoop(ctx context.Context) {
	if ix.Retention <= 0 {
		// Not "keep nothing": a retention left unset must not empty the
		// table.
		ix.log().Error("no retention set; expired " + ix.Many + " are not deleted")
		return
	}
	every := ix.RetentionEvery
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	for {
		n, err := ix.Prune(ctx, time.Now().Add(-ix.Retention))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			ix.log().Warn("expired "+ix.Many+" not deleted; trying again at the next run", "deleted", n, "error", err)
		case n > 0:
			ix.log().Info("expired "+ix.Many+" deleted", "deleted", n, "retention", ix.Retention)
		}
		n, err = ix.PruneBytes(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			ix.log().Warn(ix.Many+" over the byte limits not deleted; trying again at the next run", "deleted", n, "error", err)
		case n > 0:
			ix.log().Warn("oldest "+ix.Many+" deleted to stay within the byte limits", "deleted", n,
				"max_bytes", ix.MaxBytes, "max_expendable_bytes", ix.MaxExpendableBytes)
		}
		if !sleep(ctx, every) {
			return
		}
	}
}

// Prune deletes the rows older than cutoff and returns how many it
// deleted. It deletes PruneBatchSize rows per statement, oldest first, so
// a large backlog never becomes one long transaction holding locks on a
// table the indexer is writing to.
func (ix *Indexer[R]) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	size := ix.PruneBatchSize
	if size <= 0 {
		size = DefaultPruneBatchSize
	}
	// Stored times are UTC; SQLite compares them as text.
	cutoff = cutoff.UTC()
	total := 0
	for {
		n, full, err := ix.Table.PruneBatch(ctx, cutoff, size)
		total += n
		if err != nil || !full {
			return total, err
		}
	}
}
