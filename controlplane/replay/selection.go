package replay

import (
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/receipt"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Selected returns the predicates of the receipts a bulk replay of req
// walks: a source's receipts that match the filter as ListReceipts reads
// it, received before cutoff (so the replays' own receipts, and anything
// received after the operation started, are left alone) and never
// replays themselves. Counting them when the operation starts and walking
// them afterwards use the same predicates. The violations name the
// request fields that are not valid; the predicates mean nothing unless
// there are none.
func Selected(sourceID uuid.UUID, req *plugsv1.ReplayReceiptsRequest, cutoff time.Time) ([]predicate.Receipt, []*errdetails.BadRequest_FieldViolation) {
	where, bad := receipts.Where(sourceID, req)
	// UTC, as stored: SQLite compares times as text.
	return append(where, receipt.Replay(false), receipt.ReceiveTimeLT(cutoff.UTC())), bad
}
