package deliveries

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryattempt"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

var outcomes = streamindex.Outcomes[plugsv1.DeliveryAttempt_Outcome, deliveryattempt.Outcome]{
	plugsv1.DeliveryAttempt_OUTCOME_UNSPECIFIED:   deliveryattempt.OutcomeUnspecified,
	plugsv1.DeliveryAttempt_OUTCOME_DELIVERED:     deliveryattempt.OutcomeDelivered,
	plugsv1.DeliveryAttempt_OUTCOME_RETRYING:      deliveryattempt.OutcomeRetrying,
	plugsv1.DeliveryAttempt_OUTCOME_DEAD_LETTERED: deliveryattempt.OutcomeDeadLettered,
}

// StoredOutcome is how an API outcome is stored; false for a number the
// API does not define.
func StoredOutcome(o plugsv1.DeliveryAttempt_Outcome) (deliveryattempt.Outcome, bool) {
	return outcomes.Stored(o)
}

// APIOutcome is the API's name of a stored outcome.
func APIOutcome(s deliveryattempt.Outcome) plugsv1.DeliveryAttempt_Outcome { return outcomes.API(s) }

// Row is a decoded attempt, checked and ready to insert.
type Row struct {
	ID, TenantID, DestinationID uuid.UUID
	Attempt                     *plugsv1.DeliveryAttempt
	// AttemptTime and NextRetry (nil when none) are UTC, cut to
	// microseconds.
	AttemptTime time.Time
	NextRetry   *time.Time
	// DeliverySeq is where the delivery is held in
	// backbone.DeliveriesStream; 0 when unknown.
	DeliverySeq uint64
}

// Decode reads a message of backbone.AttemptsStream published on subject
// with header. The tenant (header) and destination (body) must parse and
// agree with the subject, which the data plane derived from the same ids:
// an attempt filed under another tenant's subject is a bug, and indexing
// it could show it to the wrong tenant. Empty ones are taken from the
// subject. An attempt without a time takes published, the time the
// stream stored it.
func Decode(subject string, header nats.Header, data []byte, published time.Time) (Row, error) {
	a := &plugsv1.DeliveryAttempt{}
	if err := proto.Unmarshal(data, a); err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var seq uint64
	if s := header.Get(forward.HeaderDeliverySeq); s != "" {
		var err error
		if seq, err = strconv.ParseUint(s, 10, 64); err != nil {
			return Row{}, fmt.Errorf("%w: delivery sequence %q", ErrMalformed, s)
		}
	}
	return decoded(subject, header.Get(forward.HeaderTenantID), a, seq, published)
}

// DecodeMsg reads a message of backbone.AttemptsStream published on
// subject with header: a batch of attempts when it carries
// backbone.BatchHeader, else one attempt, as Decode reads it. The tenant
// header covers the whole batch; every attempt must agree with the
// subject, and one that does not makes the whole message malformed.
func DecodeMsg(subject string, header nats.Header, data []byte, published time.Time) ([]Row, error) {
	tenant := header.Get(forward.HeaderTenantID)
	return streamindex.DecodeMsg(header, data, ErrMalformed, "entry",
		func() (Row, error) { return Decode(subject, header, data, published) },
		(*plugsv1.DeliveryAttemptBatch).GetEntries,
		func(e *plugsv1.DeliveryAttemptEntry) (Row, error) {
			a := e.GetAttempt()
			if a == nil {
				return Row{}, fmt.Errorf("%w: without an attempt", ErrMalformed)
			}
			return decoded(subject, tenant, a, e.GetDeliverySeq(), published)
		})
}

// decoded checks an attempt read from a message on subject, filed under
// tenant.
func decoded(subject, tenant string, a *plugsv1.DeliveryAttempt, seq uint64, published time.Time) (Row, error) {
	ids, err := streamindex.ParseIDs(subject, backbone.AttemptSubject, a.GetId(), tenant, "destination_id", a.GetDestinationId())
	if err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	row := Row{
		ID: ids.ID, TenantID: ids.Tenant, DestinationID: ids.Owner, Attempt: a,
		AttemptTime: streamindex.RowTime(a.GetAttemptTime(), published),
		DeliverySeq: seq,
	}
	if nr := a.GetNextRetryTime(); nr != nil && nr.IsValid() {
		next := streamindex.Stamp(nr.AsTime())
		row.NextRetry = &next
	}
	return row, nil
}

// outcome is the row's outcome as stored.
func (row Row) outcome() deliveryattempt.Outcome {
	outcome, ok := StoredOutcome(row.Attempt.GetOutcome())
	if !ok {
		// A data plane newer than this control plane: keep the entry, its
		// status and error still tell what happened.
		return deliveryattempt.OutcomeUnspecified
	}
	return outcome
}

// create builds the insert of a row.
func (row Row) create(c *ent.Client) *ent.DeliveryAttemptCreate {
	a := row.Attempt
	return c.DeliveryAttempt.Create().
		SetID(row.ID).
		SetTenantID(row.TenantID).
		SetDestinationID(row.DestinationID).
		SetUsageEventID(streamindex.Text(a.GetUsageEventId())).
		SetProviderEventID(streamindex.Text(a.GetProviderEventId())).
		SetEventType(streamindex.Text(a.GetEventType())).
		SetSourceID(streamindex.Text(a.GetSourceId())).
		SetAttempt(a.GetAttempt()).
		SetAttemptTime(row.AttemptTime).
		SetStatusCode(a.GetStatusCode()).
		SetLatencyMs(a.GetLatency().AsDuration().Milliseconds()).
		SetError(streamindex.Text(a.GetError())).
		SetOutcome(row.outcome()).
		SetNillableNextRetryTime(row.NextRetry).
		SetDataPlane(streamindex.Text(a.GetDataPlane())).
		SetDeliverySeq(row.DeliverySeq)
}

// ToProto renders a stored attempt.
func ToProto(r *ent.DeliveryAttempt) *plugsv1.DeliveryAttempt {
	out := &plugsv1.DeliveryAttempt{
		Id:              r.ID.String(),
		DestinationId:   r.DestinationID.String(),
		UsageEventId:    r.UsageEventID,
		ProviderEventId: r.ProviderEventID,
		EventType:       r.EventType,
		SourceId:        r.SourceID,
		Attempt:         r.Attempt,
		AttemptTime:     timestamppb.New(r.AttemptTime),
		StatusCode:      r.StatusCode,
		Latency:         durationpb.New(time.Duration(r.LatencyMs) * time.Millisecond),
		Error:           r.Error,
		Outcome:         APIOutcome(r.Outcome),
		DataPlane:       r.DataPlane,
	}
	if r.NextRetryTime != nil {
		out.NextRetryTime = timestamppb.New(*r.NextRetryTime)
	}
	return out
}
