package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
)

// requireDestination answers NOT_FOUND unless the destination is the
// caller's tenant's: another tenant's is not found, exactly like a missing
// one. The methods reaching a destination's state in the backbone, which
// is keyed by destination id only, ask this first.
func requireDestination(ctx context.Context, c *ent.Client, log *slog.Logger, id uuid.UUID) error {
	ok, err := c.Destination.Query().Where(destination.ID(id)).Exist(ctx)
	if err != nil {
		return internal(ctx, log, "look up destination", err)
	}
	if !ok {
		return notFound("destination", id.String())
	}
	return nil
}

// noBackbone is FAILED_PRECONDITION for a call that needs the backbone
// when the control plane was started without one; held says what the
// backbone holds that the call needs.
func noBackbone(held string) error {
	st := status.New(codes.FailedPrecondition, "no backbone configured")
	if dt, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type:        "BACKBONE",
		Subject:     "control plane",
		Description: held + " kept in NATS JetStream; start the control plane with --nats-url (PLUGS_NATS_URL)",
	}}}); err == nil {
		st = dt
	}
	return st.Err()
}

// backboneErr turns a failed read or write of the backbone by package
// forward into a status: UNAVAILABLE, worth retrying, when the backbone
// did not answer.
func backboneErr(ctx context.Context, log *slog.Logger, what string, err error) error {
	if ctx.Err() != nil || !errors.Is(err, forward.ErrBackbone) {
		return internal(ctx, log, what, err)
	}
	log.WarnContext(ctx, what, "error", err)
	return unavailable("backbone unavailable; try again")
}

// unavailable is UNAVAILABLE with a second's RetryInfo: the backbone did
// not answer, and the same call may well succeed soon.
func unavailable(msg string) error {
	st := status.New(codes.Unavailable, msg)
	if dt, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); derr == nil {
		st = dt
	}
	return st.Err()
}
