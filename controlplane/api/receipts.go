package api

import (
	"context"
	"log/slog"

	"entgo.io/ent/dialect/sql"

	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/replay"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Receipts implements plugs.v1.ReceiptService over the receipts index,
// which the receipts indexer fills from the backbone. Rows are
// tenant-scoped by the ORM: another tenant's receipt is not found, exactly
// like a missing one.
type Receipts struct {
	plugsv1.UnimplementedReceiptServiceServer

	Client *ent.Client
	// Replayer runs replays; nil answers FAILED_PRECONDITION.
	Replayer *replay.Replayer
	// Replays runs bulk replays in the background; nil answers
	// ReplayReceipts with FAILED_PRECONDITION.
	Replays ReplayRunner
	Log     *slog.Logger
}

// listedReceiptFields are the columns a list reads: everything but the
// headers and the body, which may be a megabyte each.
var listedReceiptFields = func() []string {
	var out []string
	for _, c := range receipt.Columns {
		if c != receipt.FieldHeaders && c != receipt.FieldBody {
			out = append(out, c)
		}
	}
	return out
}()

// ListReceipts implements plugs.v1.ReceiptService.
func (r *Receipts) ListReceipts(ctx context.Context, req *plugsv1.ListReceiptsRequest) (*plugsv1.ListReceiptsResponse, error) {
	sourceID, err := parseID("source_id", req.GetSourceId())
	if err != nil {
		return nil, err
	}
	var v violations
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		v.add("page_size", "must not be negative")
	}
	after, hasAfter, err := decodeTimePageToken(sourceID, req.GetPageToken())
	if err != nil {
		v.add("page_token", "not a page token of this list")
	}
	where, bad := receipts.Where(sourceID, req)
	v = append(v, bad...)
	q := r.Client.Receipt.Query().Where(where...)
	if err := v.err(); err != nil {
		return nil, err
	}
	// The source first: another tenant's source is not found, rather
	// than an empty list.
	if err := r.requireSource(ctx, sourceID); err != nil {
		return nil, err
	}
	if hasAfter {
		// Strictly after the last row of the previous page in (receive
		// time, id) order, newest first: receipts indexed meanwhile are
		// newer and sort before it, so they shift no page.
		q.Where(receipt.Or(
			receipt.ReceiveTimeLT(after.time),
			receipt.And(receipt.ReceiveTimeEQ(after.time), receipt.IDLT(after.id)),
		))
	}
	rows, err := q.
		Order(receipt.ByReceiveTime(sql.OrderDesc()), receipt.ByID(sql.OrderDesc())).
		Limit(size + 1).
		Select(listedReceiptFields...).
		All(ctx)
	if err != nil {
		return nil, internal(ctx, r.log(), "list receipts", err)
	}
	resp := &plugsv1.ListReceiptsResponse{Receipts: make([]*plugsv1.Receipt, 0, min(len(rows), size))}
	if len(rows) > size {
		rows = rows[:size]
		last := rows[size-1]
		resp.NextPageToken = encodeTimePageToken(sourceID, timeKey{time: last.ReceiveTime, id: last.ID})
	}
	for _, row := range rows {
		resp.Receipts = append(resp.Receipts, receipts.ToProto(row, false))
	}
	return resp, nil
}

// GetReceipt implements plugs.v1.ReceiptService.
func (r *Receipts) GetReceipt(ctx context.Context, req *plugsv1.GetReceiptRequest) (*plugsv1.Receipt, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	row, err := r.Client.Receipt.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("receipt", id.String())
	}
	if err != nil {
		return nil, internal(ctx, r.log(), "get receipt", err)
	}
	return receipts.ToProto(row, true), nil
}

func (r *Receipts) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
