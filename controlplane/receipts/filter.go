package receipts

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/receipt"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MaxFilterLen bounds a text filter; no stored cause, event type or
// provider event id worth finding is longer.
const MaxFilterLen = 1024

// FilterRequest is what ListReceiptsRequest and ReplayReceiptsRequest have
// in common: both select receipts by the same fields, with the same rules.
type FilterRequest interface {
	GetOutcome() plugsv1.Receipt_Outcome
	GetCause() string
	GetEventType() string
	GetProviderEventId() string
	GetStartTime() *timestamppb.Timestamp
	GetEndTime() *timestamppb.Timestamp
}

// Where returns the predicates selecting the receipts of a source that
// match req, and the request fields that are not valid, named as in the
// API; the predicates mean nothing unless there are none.
func Where(sourceID uuid.UUID, req FilterRequest) ([]predicate.Receipt, []*errdetails.BadRequest_FieldViolation) {
	var bad []*errdetails.BadRequest_FieldViolation
	add := func(field, desc string) {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
	}
	where := []predicate.Receipt{receipt.SourceID(sourceID)}
	if o := req.GetOutcome(); o != plugsv1.Receipt_OUTCOME_UNSPECIFIED {
		if stored, ok := StoredOutcome(o); ok {
			where = append(where, receipt.OutcomeEQ(stored))
		} else {
			add("outcome", "must be one of OUTCOME_ACCEPTED, OUTCOME_DUPLICATE, OUTCOME_FILTERED, OUTCOME_REJECTED, OUTCOME_HANDSHAKE")
		}
	}
	for _, f := range []struct {
		name, value string
		pred        func(string) predicate.Receipt
	}{
		{"cause", req.GetCause(), receipt.Cause},
		{"event_type", req.GetEventType(), receipt.EventType},
		{"provider_event_id", req.GetProviderEventId(), receipt.ProviderEventID},
	} {
		if f.value == "" {
			continue
		}
		if len(f.value) > MaxFilterLen {
			add(f.name, fmt.Sprintf("must be at most %d bytes", MaxFilterLen))
			continue
		}
		where = append(where, f.pred(f.value))
	}
	var start, end time.Time
	if t := req.GetStartTime(); t != nil {
		if t.CheckValid() != nil {
			add("start_time", "must be a valid timestamp")
		} else {
			start = t.AsTime()
			where = append(where, receipt.ReceiveTimeGTE(start))
		}
	}
	if t := req.GetEndTime(); t != nil {
		if t.CheckValid() != nil {
			add("end_time", "must be a valid timestamp")
		} else {
			end = t.AsTime()
			where = append(where, receipt.ReceiveTimeLT(end))
		}
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		add("end_time", "must be after start_time")
	}
	return where, bad
}
