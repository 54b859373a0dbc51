package api

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpreceipts "github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/replay"
	"github.com/plugshq/plugs/ent"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ReplayReceipt implements plugs.v1.ReceiptService.
func (r *Receipts) ReplayReceipt(ctx context.Context, req *plugsv1.ReplayReceiptRequest) (*plugsv1.ReplayReceiptResponse, error) {
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
	if r.Replayer == nil {
		return nil, replayError(ctx, r, replay.ErrNoBackbone)
	}
	orig := cpreceipts.ToProto(row, true)
	out, err := r.Replayer.Replay(ctx, orig, req.GetBypassDedup())
	if errors.Is(err, replay.ErrReplayOfReplay) {
		return nil, replayOfReplay(orig)
	}
	if err != nil {
		return nil, replayError(ctx, r, err)
	}
	r.log().InfoContext(ctx, "receipt replayed", "receipt", row.ID, "outcome", out.GetOutcome(), "cause", out.GetCause())
	return &plugsv1.ReplayReceiptResponse{Receipt: out}, nil
}

// replayError answers an error of package replay.
func replayError(ctx context.Context, r *Receipts, err error) error {
	switch {
	case errors.Is(err, replay.ErrNoBackbone):
		return status.Error(codes.FailedPrecondition, "no backbone configured: start the control plane with --nats-url")
	case errors.Is(err, replay.ErrBodyTruncated):
		return status.Error(codes.FailedPrecondition, "the receipt holds only the start of the body (cut short, or not read whole); it cannot be replayed")
	case errors.Is(err, replay.ErrSourceGone):
		return status.Error(codes.FailedPrecondition, "the source no longer exists")
	}
	return internal(ctx, r.log(), "replay receipt", err)
}

// replayOfReplay refuses to replay the receipt of a replay, naming the
// original to replay instead.
func replayOfReplay(r *plugsv1.Receipt) error {
	msg := "the receipt records a replay: replay the original receipt instead"
	if id := replay.OriginalID(r); id != "" {
		msg = "the receipt records a replay: replay the original receipt " + id + " instead"
	}
	st := status.New(codes.FailedPrecondition, msg)
	if d, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "REPLAY", Subject: "receipts/" + r.GetId(), Description: msg,
	}}}); err == nil {
		st = d
	}
	return st.Err()
}
