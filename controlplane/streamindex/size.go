package streamindex

import (
	"context"

	"github.com/google/uuid"
)

// SizedTable is a Table whose rows have sizes, so that an Indexer's byte
// limits (Settings.MaxBytes, MaxExpendableBytes) apply to it. Some of its
// rows may be expendable: kept while there is room, and the first to go
// when there is not (the receipts of requests anyone could have sent).
type SizedTable interface {
	// Bytes is the size of the rows kept, all of them and the expendable
	// ones alone.
	Bytes(ctx context.Context) (all, expendable int64, err error)
	// Oldest returns at most n rows, oldest first: expendable ones only
	// when expendable is set, any otherwise.
	Oldest(ctx context.Context, expendable bool, n int) ([]Sized, error)
	// Delete deletes the rows of keys and says how many it deleted.
	Delete(ctx context.Context, keys []uuid.UUID) (int, error)
}

// Sized is a row's key and the bytes it counts for.
type Sized struct {
	Key   uuid.UUID
	Bytes int64
}

// PruneBytes deletes the oldest rows until the table is within the byte
// limits, and returns how many it deleted. Expendable rows over their own
// limit go first; then, over the limit of all rows, the oldest expendable
// rows, and only once none is left the oldest rows of any kind: rows that
// anyone could have caused never push out the others. It deletes nothing
// from a table that is not a SizedTable, or without limits.
//
// Replicas pruning at once may both count the same excess and delete the
// same oldest rows; each stops when the rows it chose add up to it, so
// together they delete about as much as one.
func (ix *Indexer[R]) PruneBytes(ctx context.Context) (int, error) {
	t, ok := ix.Table.(SizedTable)
	if !ok || (ix.MaxBytes <= 0 && ix.MaxExpendableBytes <= 0) {
		return 0, nil
	}
	all, expendable, err := t.Bytes(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	if ix.MaxExpendableBytes > 0 && expendable > ix.MaxExpendableBytes {
		freed, n, err := ix.free(ctx, t, true, expendable-ix.MaxExpendableBytes)
		total += n
		if err != nil {
			return total, err
		}
		all, expendable = all-freed, expendable-freed
	}
	if ix.MaxBytes > 0 && all > ix.MaxBytes {
		need := all - ix.MaxBytes
		freed, n, err := ix.free(ctx, t, true, min(need, expendable))
		total += n
		if err != nil || freed >= need {
			return total, err
		}
		_, n, err = ix.free(ctx, t, false, need-freed)
		total += n
		return total, err
	}
	return total, nil
}

// free deletes the oldest rows (expendable ones only, when expendable is
// set) until their sizes add up to need, PruneBatchSize rows per
// statement. It returns the bytes of the rows it chose and how many it
// deleted.
func (ix *Indexer[R]) free(ctx context.Context, t SizedTable, expendable bool, need int64) (freed int64, deleted int, err error) {
	size := ix.PruneBatchSize
	if size <= 0 {
		size = DefaultPruneBatchSize
	}
	for freed < need {
		rows, err := t.Oldest(ctx, expendable, size)
		if err != nil || len(rows) == 0 {
			return freed, deleted, err
		}
		keys := make([]uuid.UUID, 0, len(rows))
		for _, r := range rows {
			if freed >= need {
				break
			}
			keys = append(keys, r.Key)
			freed += max(r.Bytes, 1)
		}
		n, err := t.Delete(ctx, keys)
		deleted += n
		if err != nil {
			return freed, deleted, err
		}
		if len(rows) < size {
			// Nothing older is left to choose.
			break
		}
	}
	return freed, deleted, nil
}
