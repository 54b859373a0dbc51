package streamindex

import (
	"context"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

// InsertNew stores the rows of a batch that are not stored yet, in one
// transaction of c as the system viewer: stored says which of the ids are
// stored already, and save stores the new rows (each once, in batch order)
// through the transaction's client, with whatever it keeps alongside them,
// such as a rollup of their counts. A row indexed twice is then saved once,
// and what is kept alongside never counts it twice. (On PostgreSQL, two
// replicas storing the same row in the very same instant, possible only
// after one held its message past the consumer's ack wait, could both find
// it new; the row itself is still stored once.)
func InsertNew[R any](ctx context.Context, c *ent.Client, rows []R, key func(R) uuid.UUID,
	stored func(context.Context, *ent.Client, []uuid.UUID) ([]uuid.UUID, error),
	save func(context.Context, *ent.Client, []R) error,
) error {
	if len(rows) == 0 {
		return nil
	}
	ctx = viewer.System(ctx)
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = key(r)
	}
	return store.WithTx(ctx, c, func(tx *ent.Tx) error {
		have, err := stored(ctx, tx.Client(), ids)
		if err != nil {
			return err
		}
		seen := make(map[uuid.UUID]bool, len(have)+len(rows))
		for _, id := range have {
			seen[id] = true
		}
		var fresh []R
		for _, r := range rows {
			if !seen[key(r)] {
				seen[key(r)] = true
				fresh = append(fresh, r)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return save(ctx, tx.Client(), fresh)
	})
}
