package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/ent"
)

// violations collects field violations of one request, named by the
// request field path (for example "source.event_filter.event_types[1]").
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, desc string) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
}

// err returns INVALID_ARGUMENT with a google.rpc.BadRequest detail, or nil
// when nothing was added.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	msg := v[0].Field + ": " + v[0].Description
	if len(v) > 1 {
		msg += " (and more)"
	}
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v}); err == nil {
		st = d
	}
	return st.Err()
}

// invalid is a single-violation INVALID_ARGUMENT.
func invalid(field, desc string) error {
	var v violations
	v.add(field, desc)
	return v.err()
}

// notFound is the answer for a missing resource and for another tenant's
// resource alike: the caller cannot tell the two apart.
func notFound(kind, id string) error {
	st := status.New(codes.NotFound, kind+" not found")
	if d, err := st.WithDetails(&errdetails.ResourceInfo{ResourceType: kind, ResourceName: id}); err == nil {
		st = d
	}
	return st.Err()
}

// internal logs err and answers INTERNAL without its text, which could
// carry database details.
func internal(ctx context.Context, log *slog.Logger, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if ent.IsNotFound(err) {
		return status.Error(codes.NotFound, "not found")
	}
	if conflicted(err) {
		log.WarnContext(ctx, what, "error", err)
		return status.Error(codes.Aborted, what+" conflicted with a concurrent change; retry")
	}
	log.ErrorContext(ctx, what, "error", err)
	return status.Error(codes.Internal, what+" failed")
}

// ErrResumeToken is what a ListenFeed wraps when a resume token is not one
// of its cursors for the mode asked for: the caller made it up, or it
// belongs to a stream of the other mode.
var ErrResumeToken = errors.New("api: not a cursor of a listen stream of this mode")

// conflicted reports whether PostgreSQL gave up a transaction for another
// one it crossed (a deadlock, or a serialization failure), as a source's
// delete and an edit of a destination routed to it can: the same request
// again succeeds. pgx's errors carry the SQLSTATE.
func conflicted(err error) bool {
	var pg interface{ SQLState() string }
	if !errors.As(err, &pg) {
		return false
	}
	switch pg.SQLState() {
	case "40P01", "40001": // deadlock_detected, serialization_failure
		return true
	}
	return false
}
