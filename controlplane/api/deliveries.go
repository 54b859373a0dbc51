package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/deliveries"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryattempt"
	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// maxDeliveryFilterLen bounds an id filter of ListDeliveries; no usage or
// provider event id worth finding is longer.
const maxDeliveryFilterLen = 1024

// Deliveries implements the delivery-log methods of
// plugs.v1.DestinationService. The log is the index the deliveries indexer
// fills from the backbone; its rows are tenant-scoped by the ORM, and the
// destination is looked up first, so another tenant's destination is not
// found, exactly like a missing one. A retry queues the delivery again in
// the backbone.
type Deliveries struct {
	Client *ent.Client
	// JS reaches the backbone; nil answers RetryDelivery with
	// FAILED_PRECONDITION. The log is listed without it.
	JS  jetstream.JetStream
	Log *slog.Logger
}

// ListDeliveries implements plugs.v1.DestinationService.
func (d *Deliveries) ListDeliveries(ctx context.Context, req *plugsv1.ListDeliveriesRequest) (*plugsv1.ListDeliveriesResponse, error) {
	destID, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	var v violations
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		v.add("page_size", "must not be negative")
	}
	// A page token binds the destination and the time and id of the last
	// row shown (decodeTimePageToken).
	after, hasAfter, err := decodeTimePageToken(destID, req.GetPageToken())
	if err != nil {
		v.add("page_token", "not a page token of this list")
	}
	q := d.Client.DeliveryAttempt.Query().Where(deliveryAttemptFilter(&v, destID, req)...)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := requireDestination(ctx, d.Client, d.log(), destID); err != nil {
		return nil, err
	}
	if hasAfter {
		// Strictly after the last row of the previous page in (attempt
		// time, id) order, newest first: attempts indexed meanwhile are
		// newer and sort before it, so they shift no page.
		q.Where(deliveryattempt.Or(
			deliveryattempt.AttemptTimeLT(after.time),
			deliveryattempt.And(deliveryattempt.AttemptTimeEQ(after.time), deliveryattempt.IDLT(after.id)),
		))
	}
	rows, err := q.
		Order(deliveryattempt.ByAttemptTime(sql.OrderDesc()), deliveryattempt.ByID(sql.OrderDesc())).
		Limit(size + 1).
		All(ctx)
	if err != nil {
		return nil, internal(ctx, d.log(), "list deliveries", err)
	}
	resp := &plugsv1.ListDeliveriesResponse{Deliveries: make([]*plugsv1.DeliveryAttempt, 0, min(len(rows), size))}
	if len(rows) > size {
		rows = rows[:size]
		last := rows[size-1]
		resp.NextPageToken = encodeTimePageToken(destID, timeKey{time: last.AttemptTime, id: last.ID})
	}
	for _, row := range rows {
		resp.Deliveries = append(resp.Deliveries, deliveries.ToProto(row))
	}
	return resp, nil
}

// deliveryAttemptFilter returns the predicates selecting the destination's
// attempts that match req, adding to v the fields that are not valid.
func deliveryAttemptFilter(v *violations, destID uuid.UUID, req *plugsv1.ListDeliveriesRequest) []predicate.DeliveryAttempt {
	where := []predicate.DeliveryAttempt{deliveryattempt.DestinationID(destID)}
	if o := req.GetOutcome(); o != plugsv1.DeliveryAttempt_OUTCOME_UNSPECIFIED {
		if stored, ok := deliveries.StoredOutcome(o); ok {
			where = append(where, deliveryattempt.OutcomeEQ(stored))
		} else {
			v.add("outcome", "must be one of OUTCOME_DELIVERED, OUTCOME_RETRYING, OUTCOME_DEAD_LETTERED")
		}
	}
	for _, f := range []struct {
		name, value string
		pred        func(string) predicate.DeliveryAttempt
	}{
		{"usage_event_id", req.GetUsageEventId(), deliveryattempt.UsageEventID},
		{"provider_event_id", req.GetProviderEventId(), deliveryattempt.ProviderEventID},
	} {
		if f.value == "" {
			continue
		}
		if len(f.value) > maxDeliveryFilterLen {
			v.add(f.name, fmt.Sprintf("must be at most %d bytes", maxDeliveryFilterLen))
			continue
		}
		where = append(where, f.pred(f.value))
	}
	start, end := validTime(v, "start_time", req.GetStartTime()), validTime(v, "end_time", req.GetEndTime())
	if start != nil {
		where = append(where, deliveryattempt.AttemptTimeGTE(*start))
	}
	if end != nil {
		where = append(where, deliveryattempt.AttemptTimeLT(*end))
	}
	if start != nil && end != nil && !end.After(*start) {
		v.add("end_time", "must be after start_time")
	}
	return where
}

// validTime reads an optional timestamp field in UTC, as times are
// stored; nil when it is unset or, added to v, not valid.
func validTime(v *violations, field string, t *timestamppb.Timestamp) *time.Time {
	if t == nil {
		return nil
	}
	if t.CheckValid() != nil {
		v.add(field, "must be a valid timestamp")
		return nil
	}
	at := t.AsTime().UTC()
	return &at
}

// RetryDelivery implements plugs.v1.DestinationService. It queues again
// the delivery the newest log entry of the event names, held in
// backbone.DeliveriesStream since the event was routed (or last retried):
// a new delivery, counting its attempts from 1 and its max_age from now,
// of the same event, so the destination sees the same webhook-id.
func (d *Deliveries) RetryDelivery(ctx context.Context, req *plugsv1.RetryDeliveryRequest) (*plugsv1.RetryDeliveryResponse, error) {
	destID, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	eventID, err := parseID("usage_event_id", req.GetUsageEventId())
	if err != nil {
		return nil, err
	}
	if err := requireDestination(ctx, d.Client, d.log(), destID); err != nil {
		return nil, err
	}
	if d.JS == nil {
		return nil, noBackbone("deliveries to retry are")
	}
	row, err := d.Client.DeliveryAttempt.Query().
		Where(deliveryattempt.DestinationID(destID), deliveryattempt.UsageEventID(eventID.String())).
		Order(deliveryattempt.ByAttemptTime(sql.OrderDesc()), deliveryattempt.ByID(sql.OrderDesc())).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, notFound("delivery", eventID.String())
	}
	if err != nil {
		return nil, internal(ctx, d.log(), "look up delivery", err)
	}
	if row.DeliverySeq != 0 {
		err = forward.RetryDelivery(ctx, d.JS, destID.String(), row.DeliverySeq, eventID.String())
	}
	vw, _ := viewer.FromContext(ctx)
	switch {
	case row.DeliverySeq == 0, errors.Is(err, forward.ErrDeliveryGone):
		return nil, deliveryGone(eventID)
	case err != nil:
		return nil, backboneErr(ctx, d.log(), "retry delivery", err)
	}
	d.log().InfoContext(ctx, "delivery retried", "destination_id", destID, "tenant_id", vw.TenantID, "usage_event_id", eventID)
	return &plugsv1.RetryDeliveryResponse{UsageEventId: eventID.String()}, nil
}

// deliveryGone is FAILED_PRECONDITION for a delivery the backbone no
// longer holds: only the log of it is left.
func deliveryGone(eventID uuid.UUID) error {
	st := status.New(codes.FailedPrecondition, "the delivery is no longer held by the backbone")
	if dt, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type:    "DELIVERY_RETAINED",
		Subject: "usage_event_id " + eventID.String(),
		Description: fmt.Sprintf("deliveries are kept %d days after they are queued, and the log names one no longer there",
			backbone.DeliveriesMaxAge/(24*time.Hour)),
	}}}); err == nil {
		st = dt
	}
	return st.Err()
}

func (d *Deliveries) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}
