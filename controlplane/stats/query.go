package stats

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryrollup"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/receiptrollup"
)

// Day is how far back the aggregates reach.
const Day = 24 * time.Hour

// LastDay is the window the aggregates cover at now: the 1,440 whole
// minutes ending with now's minute, so the current minute counts as it
// fills.
func LastDay(now time.Time) (start, end time.Time) {
	end = bucketOf(now).Add(Bucket)
	return end.Add(-Day), end
}

// ReceiptSum is a sum of receipt rollup rows.
type ReceiptSum struct {
	Minute   time.Time
	SourceID uuid.UUID
	Outcome  string
	Cause    string
	Count    int64
}

// ReceiptMinutes sums the viewer's receipt rollup from start on by minute,
// outcome and cause, across its sources. The rows read are at most one per
// minute, source, outcome and cause of the window.
func ReceiptMinutes(ctx context.Context, c *ent.Client, start time.Time) ([]ReceiptSum, error) {
	var rows []struct {
		Minute  time.Time `json:"minute"`
		Outcome string    `json:"outcome"`
		Cause   string    `json:"cause"`
		Sum     int64     `json:"sum"`
	}
	err := c.ReceiptRollup.Query().
		Where(receiptrollup.MinuteGTE(start)).
		GroupBy(receiptrollup.FieldMinute, receiptrollup.FieldOutcome, receiptrollup.FieldCause).
		Aggregate(ent.Sum(receiptrollup.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("stats: receipt minutes: %w", err)
	}
	out := make([]ReceiptSum, len(rows))
	for i, r := range rows {
		out[i] = ReceiptSum{Minute: r.Minute.UTC(), Outcome: r.Outcome, Cause: r.Cause, Count: r.Sum}
	}
	return out, nil
}

// SourceTotals sums the receipt rollup of the given sources from start on,
// by source and outcome (Minute and Cause are left zero).
func SourceTotals(ctx context.Context, c *ent.Client, start time.Time, sourceIDs []uuid.UUID) ([]ReceiptSum, error) {
	if len(sourceIDs) == 0 {
		return nil, nil
	}
	var rows []struct {
		SourceID uuid.UUID `json:"source_id"`
		Outcome  string    `json:"outcome"`
		Sum      int64     `json:"sum"`
	}
	err := c.ReceiptRollup.Query().
		Where(receiptrollup.SourceIDIn(sourceIDs...), receiptrollup.MinuteGTE(start)).
		GroupBy(receiptrollup.FieldSourceID, receiptrollup.FieldOutcome).
		Aggregate(ent.Sum(receiptrollup.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("stats: source totals: %w", err)
	}
	out := make([]ReceiptSum, len(rows))
	for i, r := range rows {
		out[i] = ReceiptSum{SourceID: r.SourceID, Outcome: r.Outcome, Count: r.Sum}
	}
	return out, nil
}

// DeliverySum is a sum of delivery rollup rows.
type DeliverySum struct {
	DestinationID uuid.UUID
	Outcome       string
	Count         int64
}

// DeliveryTotals sums the viewer's delivery rollup from start on by
// destination and outcome.
func DeliveryTotals(ctx context.Context, c *ent.Client, start time.Time) ([]DeliverySum, error) {
	var rows []struct {
		DestinationID uuid.UUID `json:"destination_id"`
		Outcome       string    `json:"outcome"`
		Sum           int64     `json:"sum"`
	}
	err := c.DeliveryRollup.Query().
		Where(deliveryrollup.MinuteGTE(start)).
		GroupBy(deliveryrollup.FieldDestinationID, deliveryrollup.FieldOutcome).
		Aggregate(ent.Sum(deliveryrollup.FieldCount)).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("stats: delivery totals: %w", err)
	}
	out := make([]DeliverySum, len(rows))
	for i, r := range rows {
		out[i] = DeliverySum{DestinationID: r.DestinationID, Outcome: r.Outcome, Count: r.Sum}
	}
	return out, nil
}

// LastReceived finds when each source last received a webhook: one seek
// of the receipts index (source_id, receive_time, id) per source. Sources
// without a receipt are absent.
func LastReceived(ctx context.Context, c *ent.Client, sourceIDs []uuid.UUID) (map[uuid.UUID]time.Time, error) {
	out := make(map[uuid.UUID]time.Time, len(sourceIDs))
	for _, id := range sourceIDs {
		row, err := c.Receipt.Query().
			Where(receipt.SourceID(id)).
			Order(receipt.ByReceiveTime(sql.OrderDesc())).
			Select(receipt.FieldReceiveTime).
			First(ctx)
		if ent.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stats: last received: %w", err)
		}
		out[id] = row.ReceiveTime.UTC()
	}
	return out, nil
}
