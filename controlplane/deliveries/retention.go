package deliveries

import (
	"context"
	"time"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/ent/deliveryattempt"
	"github.com/plugshq/plugs/ent/viewer"
)

// PruneBatch deletes at most n attempts made before cutoff, oldest first,
// and the rollup minutes that ended before it.
func (t table) PruneBatch(ctx context.Context, cutoff time.Time, n int) (int, bool, error) {
	ctx = viewer.System(ctx)
	if _, err := stats.PruneDeliveries(ctx, t.db.Client, cutoff); err != nil {
		return 0, false, err
	}
	ids, err := t.db.Client.DeliveryAttempt.Query().
		Where(deliveryattempt.AttemptTimeLT(cutoff)).
		Order(deliveryattempt.ByAttemptTime()).
		Limit(n).
		IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	deleted, err := t.db.Client.DeliveryAttempt.Delete().Where(deliveryattempt.IDIn(ids...)).Exec(ctx)
	return deleted, len(ids) == n, err
}
