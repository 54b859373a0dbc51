package stats

import (
	"context"
	"fmt"
	"time"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryrollup"
	"github.com/plugshq/plugs/ent/receiptrollup"
	"github.com/plugshq/plugs/ent/viewer"
)

// PruneReceipts deletes the receipt rollup's minutes that ended before
// cutoff, with the receipts they counted. A minute holds at most one row
// per source, outcome and cause, so one statement suffices.
func PruneReceipts(ctx context.Context, c *ent.Client, cutoff time.Time) (int, error) {
	n, err := c.ReceiptRollup.Delete().
		Where(receiptrollup.MinuteLT(bucketOf(cutoff))).
		Exec(viewer.System(ctx))
	if err != nil {
		return 0, fmt.Errorf("stats: prune receipt rollup: %w", err)
	}
	return n, nil
}

// PruneDeliveries does the same for the delivery rollup.
func PruneDeliveries(ctx context.Context, c *ent.Client, cutoff time.Time) (int, error) {
	n, err := c.DeliveryRollup.Delete().
		Where(deliveryrollup.MinuteLT(bucketOf(cutoff))).
		Exec(viewer.System(ctx))
	if err != nil {
		return 0, fmt.Errorf("stats: prune delivery rollup: %w", err)
	}
	return n, nil
}
