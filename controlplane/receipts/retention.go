package receipts

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
)

// PruneBatch deletes at most n receipts received before cutoff, oldest
// first, and the rollup minutes that ended before it.
func (t table) PruneBatch(ctx context.Context, cutoff time.Time, n int) (int, bool, error) {
	ctx = viewer.System(ctx)
	if _, err := stats.PruneReceipts(ctx, t.db.Client, cutoff); err != nil {
		return 0, false, err
	}
	ids, err := t.db.Client.Receipt.Query().
		Where(receipt.ReceiveTimeLT(cutoff)).
		Order(receipt.ByReceiveTime()).
		Limit(n).
		IDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	deleted, err := t.db.Client.Receipt.Delete().Where(receipt.IDIn(ids...)).Exec(ctx)
	return deleted, len(ids) == n, err
}

// Bytes is what the receipts count against the byte limits, all of them
// and those of unverified requests alone (streamindex.SizedTable).
func (t table) Bytes(ctx context.Context) (all, unverified int64, err error) {
	ctx = viewer.System(ctx)
	if all, err = t.sumSize(ctx, t.db.Client.Receipt.Query()); err != nil {
		return 0, 0, err
	}
	unverified, err = t.sumSize(ctx, t.db.Client.Receipt.Query().Where(receipt.Unverified(true)))
	return all, unverified, err
}

func (table) sumSize(ctx context.Context, q *ent.ReceiptQuery) (int64, error) {
	var v []struct {
		Sum int64 `json:"sum"`
	}
	err := q.Aggregate(func(s *sql.Selector) string {
		return sql.As("COALESCE(SUM("+s.C(receipt.FieldSizeBytes)+"), 0)", "sum")
	}).Scan(ctx, &v)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	return v[0].Sum, nil
}

// Oldest returns at most n receipts, oldest first, those of unverified
// requests only when unverified is set (streamindex.SizedTable).
func (t table) Oldest(ctx context.Context, unverified bool, n int) ([]streamindex.Sized, error) {
	q := t.db.Client.Receipt.Query()
	if unverified {
		q = q.Where(receipt.Unverified(true))
	}
	rs, err := q.Order(receipt.ByReceiveTime(), receipt.ByID()).Limit(n).
		Select(receipt.FieldID, receipt.FieldSizeBytes).All(viewer.System(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]streamindex.Sized, len(rs))
	for i, r := range rs {
		out[i] = streamindex.Sized{Key: r.ID, Bytes: r.SizeBytes}
	}
	return out, nil
}

// Delete deletes receipts by id (streamindex.SizedTable).
func (t table) Delete(ctx context.Context, ids []uuid.UUID) (int, error) {
	return t.db.Client.Receipt.Delete().Where(receipt.IDIn(ids...)).Exec(viewer.System(ctx))
}
