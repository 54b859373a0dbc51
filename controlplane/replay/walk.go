package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/replayoperation"
	"github.com/plugshq/plugs/ent/source"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// walk is one operation run by this replica: its receipts replayed oldest
// first, (receive time, id) after the cursor, with the counters and the
// cursor kept here and written every so often. Receipts are replayed one
// after the other, so everything up to the cursor is done.
type walk struct {
	r   *Runner
	op  *ent.ReplayOperation
	log *slog.Logger
	// written is when progress was last written; unwritten counts the
	// receipts replayed since.
	written   time.Time
	unwritten int
}

// walk runs op, claimed by this replica, until it ends, is cancelled, is
// taken over, or ctx is done, and records which.
func (r *Runner) walk(ctx context.Context, op *ent.ReplayOperation) {
	w := &walk{r: r, op: op, written: time.Now(),
		log: r.log().With("operation", op.ID, "tenant_id", op.TenantID, "source_id", op.SourceID)}
	w.log.Info("replaying receipts", "processed", op.ProcessedCount, "total", op.TotalCount)
	err := w.run(ctx)
	switch {
	case errors.Is(context.Cause(ctx), ErrCancelled), errors.Is(err, errStopped):
		w.settle(ctx)
	case ctx.Err() != nil:
		w.release(ctx)
	case err != nil:
		w.finish(ctx, replayoperation.StateFailed, err)
	default:
		w.finish(ctx, replayoperation.StateSucceeded, nil)
	}
}

// run replays every selected receipt after the cursor. Errors stop the
// walk: the operation cannot go on (its source is gone, the database
// fails), or it no longer runs here (errStopped).
func (w *walk) run(ctx context.Context) error {
	req := &plugsv1.ReplayReceiptsRequest{}
	if err := proto.Unmarshal(w.op.Request, req); err != nil {
		return fmt.Errorf("decode the stored filter: %w", err)
	}
	where, bad := Selected(w.op.SourceID, req, w.op.CutoffTime)
	if len(bad) > 0 {
		return fmt.Errorf("the stored filter is not valid: %s: %s", bad[0].GetField(), bad[0].GetDescription())
	}
	// The system viewer sees every tenant: the operation's tenant is
	// named here, though the source already implies it.
	where = append(where, receipt.TenantID(w.op.TenantID))
	if err := w.awaitSource(ctx); err != nil {
		return err
	}
	pace := newPacer(w.r.Rate)
	for {
		keys, err := w.page(ctx, where)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			if !pace.wait(ctx) {
				return ctx.Err()
			}
			res, err := w.replayOne(ctx, k.ID, req.GetBypassDedup())
			if err != nil {
				if ctx.Err() != nil {
					// Cut short, so not counted: the receipt is
					// replayed again on resumption.
					return ctx.Err()
				}
				return err
			}
			w.count(res, k)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if w.due() {
				if err := w.save(ctx); err != nil {
					return err
				}
			}
		}
	}
}

// awaitSource waits until this replica's configuration has the source: a
// replica learns of a source shortly after it is created, and an operation
// may start sooner. ErrSourceGone when the database no longer has the
// source (asked first: a replica's configuration may still hold a source
// deleted a moment ago), or this replica does not learn of it in
// sourceWait.
func (w *walk) awaitSource(ctx context.Context) error {
	deadline := time.Now().Add(sourceWait)
	for {
		ok, err := w.r.Client.Source.Query().Where(source.ID(w.op.SourceID)).Exist(viewer.System(ctx))
		if err != nil {
			return fmt.Errorf("look up source: %w", err)
		}
		if !ok {
			return ErrSourceGone
		}
		if w.r.Replayer.Sources.Source(w.op.SourceID.String()) != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrSourceGone
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// page reads the keys of the next receipts after the cursor, without their
// bodies: those are read one receipt at a time.
func (w *walk) page(ctx context.Context, where []predicate.Receipt) ([]*ent.Receipt, error) {
	q := w.r.Client.Receipt.Query().Where(where...)
	if ct, cid := w.op.CursorTime, w.op.CursorID; ct != nil && cid != nil {
		t := ct.UTC()
		q.Where(receipt.Or(
			receipt.ReceiveTimeGT(t),
			receipt.And(receipt.ReceiveTimeEQ(t), receipt.IDGT(*cid)),
		))
	}
	q.Order(receipt.ByReceiveTime(), receipt.ByID()).
		Limit(positive(w.r.PageSize, DefaultPageSize)).
		Select(receipt.FieldID, receipt.FieldReceiveTime)
	var rows []*ent.Receipt
	err := w.retry(ctx, func() error {
		var err error
		rows, err = q.Clone().All(viewer.System(ctx))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	return rows, nil
}

// result is what became of one receipt, as the operation counts it.
type result int

const (
	resultAccepted result = iota
	resultDuplicate
	resultFiltered
	resultRejected
	// resultFailed is a receipt that could not be replayed at all.
	resultFailed
)

// replayOne replays a receipt, trying again while the backbone does not
// take the event. A receipt that cannot be replayed counts as failed; the
// error is for what no receipt of the operation could get past.
func (w *walk) replayOne(ctx context.Context, id uuid.UUID, bypassDedup bool) (result, error) {
	var row *ent.Receipt
	err := w.retry(ctx, func() error {
		var err error
		row, err = w.r.Client.Receipt.Get(viewer.System(ctx), id)
		return err
	})
	switch {
	case ent.IsNotFound(err):
		// Aged out by the retention since the page was read.
		return resultFailed, nil
	case err != nil:
		return 0, fmt.Errorf("read receipt %s: %w", id, err)
	}
	orig := receipts.ToProto(row, true)
	delay := positive(w.r.RetryDelay, DefaultRetryDelay)
	for attempt := 1; ; attempt++ {
		out, err := w.r.Replayer.Replay(ctx, orig, bypassDedup)
		if errors.Is(err, ErrBodyTruncated) || errors.Is(err, ErrReplayOfReplay) {
			return resultFailed, nil
		}
		if err != nil {
			return 0, err
		}
		unstored := out.GetOutcome() == plugsv1.Receipt_OUTCOME_REJECTED && out.GetCause() == string(pipeline.CauseBackboneUnavailable)
		if !unstored {
			return resultOf(out.GetOutcome()), nil
		}
		if attempt == replayAttempts {
			w.log.Warn("receipt not replayed: the backbone did not store its event", "receipt", id, "attempts", attempt)
			return resultFailed, nil
		}
		if !sleep(ctx, delay) {
			return 0, ctx.Err()
		}
		delay *= 2
	}
}

// resultOf counts an outcome of the pipeline.
func resultOf(o plugsv1.Receipt_Outcome) result {
	switch o {
	case plugsv1.Receipt_OUTCOME_ACCEPTED:
		return resultAccepted
	case plugsv1.Receipt_OUTCOME_DUPLICATE:
		return resultDuplicate
	case plugsv1.Receipt_OUTCOME_FILTERED, plugsv1.Receipt_OUTCOME_HANDSHAKE:
		// A handshake, like a filtered event, is answered and stores
		// nothing.
		return resultFiltered
	}
	return resultRejected
}

// count records a receipt replayed and moves the cursor past it.
func (w *walk) count(res result, k *ent.Receipt) {
	op := w.op
	op.ProcessedCount++
	switch res {
	case resultAccepted:
		op.AcceptedCount++
	case resultDuplicate:
		op.DuplicateCount++
	case resultFiltered:
		op.FilteredCount++
	case resultRejected:
		op.RejectedCount++
	case resultFailed:
		op.FailedCount++
	}
	// A receipt received before the cutoff but indexed after the count
	// is replayed too: the total grows rather than progress passing it.
	op.TotalCount = max(op.TotalCount, op.ProcessedCount)
	t, id := k.ReceiveTime.UTC(), k.ID
	op.CursorTime, op.CursorID = &t, &id
	w.unwritten++
}

// due says whether progress should be written now.
func (w *walk) due() bool {
	return w.unwritten >= positive(w.r.ProgressCount, DefaultProgressCount) ||
		time.Since(w.written) >= positive(w.r.ProgressEvery, DefaultProgressEvery)
}

// progress sets the counters and the cursor on an update of the operation.
func (w *walk) progress(u *ent.ReplayOperationUpdate) *ent.ReplayOperationUpdate {
	op := w.op
	u.SetTotalCount(op.TotalCount).
		SetProcessedCount(op.ProcessedCount).
		SetAcceptedCount(op.AcceptedCount).
		SetDuplicateCount(op.DuplicateCount).
		SetFilteredCount(op.FilteredCount).
		SetRejectedCount(op.RejectedCount).
		SetFailedCount(op.FailedCount)
	if op.CursorTime != nil && op.CursorID != nil {
		u.SetCursorTime(*op.CursorTime).SetCursorID(*op.CursorID)
	}
	return u
}

// mine is an update of the operation as long as this replica runs it.
func (w *walk) mine() *ent.ReplayOperationUpdate {
	return w.r.Client.ReplayOperation.Update().Where(
		replayoperation.ID(w.op.ID),
		replayoperation.StateEQ(replayoperation.StateRunning),
		replayoperation.Owner(w.r.owner),
	)
}

// save writes progress and the heartbeat; errStopped when the operation
// no longer runs here. A failed write is logged and the walk goes on: if
// the database stays away, another replica takes over and the next write
// here finds that.
func (w *walk) save(ctx context.Context) error {
	n, err := w.progress(w.mine()).SetHeartbeatTime(now()).Save(viewer.System(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.log.Warn("replay progress not written", "error", err)
		return nil
	}
	if n == 0 {
		return errStopped
	}
	w.written, w.unwritten = time.Now(), 0
	return nil
}

// finish ends the operation in state, with the reason it failed.
func (w *walk) finish(ctx context.Context, state replayoperation.State, cause error) {
	ctx, cancel := lastWrite(ctx)
	defer cancel()
	u := w.progress(w.mine()).SetState(state).SetEndTime(now()).SetHeartbeatTime(now())
	if cause != nil {
		u.SetError(failureText(cause))
		w.log.Error("replay operation failed", "error", cause)
	}
	n, err := u.Save(ctx)
	switch {
	case err != nil:
		// Still running on the books: taken over once stale, and
		// finished by whoever does.
		w.log.Warn("replay operation end not written", "state", state, "error", err)
	case n == 0:
		w.settle(ctx)
	default:
		w.log.Info("replay operation ended", "state", state, "processed", w.op.ProcessedCount,
			"accepted", w.op.AcceptedCount, "duplicate", w.op.DuplicateCount, "filtered", w.op.FilteredCount,
			"rejected", w.op.RejectedCount, "failed", w.op.FailedCount)
	}
}

// release writes progress and gives the operation up, so that a replica
// resumes it from the cursor at its next look rather than after the
// heartbeat goes stale. Used when the control plane shuts down.
func (w *walk) release(ctx context.Context) {
	ctx, cancel := lastWrite(ctx)
	defer cancel()
	n, err := w.progress(w.mine()).SetOwner("").ClearHeartbeatTime().Save(ctx)
	switch {
	case err != nil:
		w.log.Warn("replay operation not released; it is taken over once stale", "error", err)
	case n == 0:
		w.settle(ctx)
	default:
		w.log.Info("replay operation left to be resumed", "processed", w.op.ProcessedCount, "total", w.op.TotalCount)
	}
}

// settle writes the final counters of an operation cancelled while this
// replica ran it. An operation another replica took over is left alone.
func (w *walk) settle(ctx context.Context) {
	ctx, cancel := lastWrite(ctx)
	defer cancel()
	n, err := w.progress(w.r.Client.ReplayOperation.Update().Where(
		replayoperation.ID(w.op.ID),
		replayoperation.StateNEQ(replayoperation.StateRunning),
		replayoperation.Owner(w.r.owner),
	)).Save(ctx)
	switch {
	case err != nil:
		w.log.Warn("counters of a cancelled replay operation not written", "error", err)
	case n == 0:
		w.log.Info("replay operation taken over by another replica")
	default:
		w.log.Info("replay operation cancelled", "processed", w.op.ProcessedCount, "total", w.op.TotalCount)
	}
}

// retry runs a database read up to three times.
func (w *walk) retry(ctx context.Context, read func() error) error {
	delay := positive(w.r.RetryDelay, DefaultRetryDelay)
	var err error
	for attempt := 1; ; attempt++ {
		err = read()
		if err == nil || ent.IsNotFound(err) || ctx.Err() != nil || attempt == replayAttempts {
			return err
		}
		w.log.Warn("database read failed; trying again", "error", err)
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		delay *= 2
	}
}

// failureText is what a failed operation says, to the tenant, about why.
// Database errors stay in the log.
func failureText(err error) string {
	switch {
	case errors.Is(err, ErrSourceGone):
		return "the source no longer exists"
	case errors.Is(err, ErrNoBackbone):
		return "no backbone configured"
	}
	return "replay stopped by an internal error; the control plane's log has the details"
}

// lastWrite is the context of the writes that end a walk, which happen
// after the walk's context may have ended.
func lastWrite(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(viewer.System(context.WithoutCancel(ctx)), writeTimeout)
}

// now is the time as stored: UTC, cut to microseconds (PostgreSQL's
// precision), so stored heartbeats compare the same on every dialect.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}
