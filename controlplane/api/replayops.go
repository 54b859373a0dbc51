package api

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/replay"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/replayoperation"
	"github.com/plugshq/plugs/ent/source"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ReplayRunner runs the bulk replays stored in the database, on whichever
// control-plane replica claims them.
type ReplayRunner interface {
	// Wake has this replica look for operations to run now.
	Wake()
	// Stop ends the walk of a cancelled operation if it runs on this
	// replica; elsewhere it stops at its next write of progress.
	Stop(id uuid.UUID)
}

// ReplayReceipts implements plugs.v1.ReceiptService. It counts the
// receipts to replay and stores the operation, running; a runner replays
// them in the background.
func (r *Receipts) ReplayReceipts(ctx context.Context, req *plugsv1.ReplayReceiptsRequest) (*plugsv1.ReplayOperation, error) {
	sourceID, err := parseID("source_id", req.GetSourceId())
	if err != nil {
		return nil, err
	}
	// Receipts of requests received before the call, or before end_time
	// if earlier: never the replays' own receipts, which come later.
	now := time.Now().UTC().Truncate(time.Microsecond)
	cutoff := now
	if t := req.GetEndTime(); t != nil && t.CheckValid() == nil && t.AsTime().Before(now) {
		cutoff = t.AsTime().UTC()
	}
	where, bad := replay.Selected(sourceID, req, cutoff)
	if err := violations(bad).err(); err != nil {
		return nil, err
	}
	if err := r.requireSource(ctx, sourceID); err != nil {
		return nil, err
	}
	if r.Replays == nil || r.Replayer == nil || r.Replayer.JetStream == nil {
		return nil, replayError(ctx, r, replay.ErrNoBackbone)
	}
	total, err := r.Client.Receipt.Query().Where(where...).Count(ctx)
	if err != nil {
		return nil, internal(ctx, r.log(), "count receipts to replay", err)
	}
	filter, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, internal(ctx, r.log(), "encode replay filter", err)
	}
	op, err := r.Client.ReplayOperation.Create().
		SetSourceID(sourceID).
		SetRequest(filter).
		SetCutoffTime(cutoff).
		SetTotalCount(int32(min(total, math.MaxInt32))).
		Save(ctx)
	if err != nil {
		return nil, internal(ctx, r.log(), "create replay operation", err)
	}
	r.Replays.Wake()
	r.log().InfoContext(ctx, "bulk replay started", "operation", op.ID, "source_id", sourceID, "total", total)
	return replayOperationToProto(op), nil
}

// GetReplayOperation implements plugs.v1.ReceiptService.
func (r *Receipts) GetReplayOperation(ctx context.Context, req *plugsv1.GetReplayOperationRequest) (*plugsv1.ReplayOperation, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	return r.replayOperation(ctx, id)
}

// ListReplayOperations implements plugs.v1.ReceiptService.
func (r *Receipts) ListReplayOperations(ctx context.Context, req *plugsv1.ListReplayOperationsRequest) (*plugsv1.ListReplayOperationsResponse, error) {
	size, after, err := idPage(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := r.Client.ReplayOperation.Query()
	if req.GetSourceId() != "" {
		sourceID, err := parseID("source_id", req.GetSourceId())
		if err != nil {
			return nil, err
		}
		if err := r.requireSource(ctx, sourceID); err != nil {
			return nil, err
		}
		q.Where(replayoperation.SourceID(sourceID))
	}
	if after != uuid.Nil {
		q.Where(replayoperation.IDLT(after))
	}
	// Ids are time-ordered: newest first, and operations started between
	// pages sort before every page.
	rows, err := q.Order(ent.Desc(replayoperation.FieldID)).Limit(size + 1).All(ctx)
	if err != nil {
		return nil, internal(ctx, r.log(), "list replay operations", err)
	}
	resp := &plugsv1.ListReplayOperationsResponse{}
	rows, resp.NextPageToken = trimPage(rows, size, func(o *ent.ReplayOperation) string { return o.ID.String() })
	for _, o := range rows {
		resp.Operations = append(resp.Operations, replayOperationToProto(o))
	}
	return resp, nil
}

// CancelReplayOperation implements plugs.v1.ReceiptService. Cancelling an
// operation that has ended changes nothing and answers it as it is.
func (r *Receipts) CancelReplayOperation(ctx context.Context, req *plugsv1.CancelReplayOperationRequest) (*plugsv1.ReplayOperation, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	// Only a running operation, on whichever replica: the replica running
	// it finds it cancelled when it next writes progress, and writes its
	// final counters.
	n, err := r.Client.ReplayOperation.Update().
		Where(replayoperation.ID(id), replayoperation.StateEQ(replayoperation.StateRunning)).
		SetState(replayoperation.StateCancelled).
		SetEndTime(time.Now().UTC().Truncate(time.Microsecond)).
		Save(ctx)
	if err != nil {
		return nil, internal(ctx, r.log(), "cancel replay operation", err)
	}
	if n > 0 {
		if r.Replays != nil {
			r.Replays.Stop(id)
		}
		r.log().InfoContext(ctx, "bulk replay cancelled", "operation", id)
	}
	return r.replayOperation(ctx, id)
}

// replayOperation reads an operation of the caller's tenant.
func (r *Receipts) replayOperation(ctx context.Context, id uuid.UUID) (*plugsv1.ReplayOperation, error) {
	op, err := r.Client.ReplayOperation.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("replay operation", id.String())
	}
	if err != nil {
		return nil, internal(ctx, r.log(), "get replay operation", err)
	}
	return replayOperationToProto(op), nil
}

// requireSource answers NOT_FOUND for a source the caller's tenant does
// not have: another tenant's source is not found, exactly like a missing
// one, rather than giving an empty answer.
func (r *Receipts) requireSource(ctx context.Context, id uuid.UUID) error {
	ok, err := r.Client.Source.Query().Where(source.ID(id)).Exist(ctx)
	if err != nil {
		return internal(ctx, r.log(), "look up source", err)
	}
	if !ok {
		return notFound("source", id.String())
	}
	return nil
}

var replayStates = map[replayoperation.State]plugsv1.ReplayOperation_State{
	replayoperation.StateRunning:   plugsv1.ReplayOperation_STATE_RUNNING,
	replayoperation.StateSucceeded: plugsv1.ReplayOperation_STATE_SUCCEEDED,
	replayoperation.StateFailed:    plugsv1.ReplayOperation_STATE_FAILED,
	replayoperation.StateCancelled: plugsv1.ReplayOperation_STATE_CANCELLED,
}

// replayOperationToProto renders a stored operation.
func replayOperationToProto(op *ent.ReplayOperation) *plugsv1.ReplayOperation {
	filter := &plugsv1.ReplayReceiptsRequest{}
	// Written by ReplayReceipts from this very message type.
	_ = proto.Unmarshal(op.Request, filter)
	out := &plugsv1.ReplayOperation{
		Id:             op.ID.String(),
		SourceId:       op.SourceID.String(),
		State:          replayStates[op.State],
		Request:        filter,
		TotalCount:     op.TotalCount,
		ProcessedCount: op.ProcessedCount,
		AcceptedCount:  op.AcceptedCount,
		DuplicateCount: op.DuplicateCount,
		FilteredCount:  op.FilteredCount,
		RejectedCount:  op.RejectedCount,
		FailedCount:    op.FailedCount,
		Error:          op.Error,
		CreateTime:     timestamppb.New(op.CreateTime),
		UpdateTime:     timestamppb.New(op.UpdateTime),
	}
	if op.EndTime != nil {
		out.EndTime = timestamppb.New(*op.EndTime)
	}
	return out
}
