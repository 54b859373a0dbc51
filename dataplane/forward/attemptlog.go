package forward

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/spool"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Headers of the messages in backbone.AttemptsStream, whose body is a
// plugs.v1.DeliveryAttempt: what the log needs that the API's message
// does not carry.
const (
	// HeaderTenantID is the tenant the attempt is filed under; the
	// control plane checks it against the subject.
	HeaderTenantID = "Plugs-Tenant-Id"
	// HeaderDeliverySeq is Attempt.DeliverySeq.
	HeaderDeliverySeq = "Plugs-Delivery-Seq"
)

// AttemptLog publishes the delivery log: give its Record as
// Options.OnAttempt and each attempt is published to
// backbone.AttemptsStream off the delivery path. A full buffer, or a
// backbone that keeps refusing, drops and counts an entry (Dropped); it
// never holds up a delivery.
type AttemptLog = spool.Spool[Attempt]

// NewAttemptLog returns a delivery log publishing as data-plane node, with
// room for size waiting attempts (0 means spool.DefaultSize). Run
// publishes them; run it until the forwarder has stopped, so the attempts
// finished while stopping are published too.
func NewAttemptLog(js jetstream.JetStream, node string, size int, log *slog.Logger) *AttemptLog {
	return spool.New(func(ctx context.Context, as []Attempt) error { return PublishAttempts(ctx, js, node, as) },
		spool.Options[Attempt]{What: "delivery attempt", Size: size, Log: log,
			Group: func(a Attempt) string { return backbone.AttemptSubject(a.TenantID, a.DestinationID) },
			Bytes: attemptBytes,
			Attrs: func(a Attempt) []any {
				return []any{"attempt", a.ID, "destination", a.DestinationID, "event", a.EventID}
			}})
}

// attemptBytes is about the encoded size of an attempt, to bound a batch:
// its fixed fields, its strings and its error.
func attemptBytes(a Attempt) int64 {
	n := 128 + len(a.ID) + len(a.DestinationID) + len(a.EventID) + len(a.ProviderEventID) + len(a.EventType) + len(a.SourceID)
	if a.Err != nil {
		n += len(a.Err.Error())
	}
	return int64(n)
}

// PublishAttempt stores one attempt, made by data-plane node, in the
// delivery log and waits for the confirmation. The attempt's id is the
// message id, so a publish retried after a lost confirmation is stored
// once.
func PublishAttempt(ctx context.Context, js jetstream.JetStream, node string, a Attempt) error {
	if checkID(a.TenantID) != nil || checkID(a.DestinationID) != nil {
		return fmt.Errorf("%w: tenant %q, destination %q", ErrUnfileableAttempt, a.TenantID, a.DestinationID)
	}
	data, err := proto.Marshal(AttemptProto(a, node))
	if err != nil {
		return err
	}
	m := nats.NewMsg(backbone.AttemptSubject(a.TenantID, a.DestinationID))
	m.Data = data
	m.Header.Set(HeaderTenantID, a.TenantID)
	if a.DeliverySeq != 0 {
		m.Header.Set(HeaderDeliverySeq, strconv.FormatUint(a.DeliverySeq, 10))
	}
	_, err = js.PublishMsg(ctx, m, jetstream.WithMsgID(a.ID), jetstream.WithExpectStream(backbone.AttemptsStream))
	return err
}

// PublishAttempts stores attempts of one tenant's destination, made by
// data-plane node, in one message of the delivery log (a
// plugs.v1.DeliveryAttemptBatch marked with backbone.BatchHeader) and
// waits for the confirmation. The message id derives from the attempts'
// ids, so a batch retried after a lost confirmation is stored once. A
// single attempt is published as PublishAttempt does.
func PublishAttempts(ctx context.Context, js jetstream.JetStream, node string, as []Attempt) error {
	switch len(as) {
	case 0:
		return nil
	case 1:
		return PublishAttempt(ctx, js, node, as[0])
	}
	first := as[0]
	if checkID(first.TenantID) != nil || checkID(first.DestinationID) != nil {
		return fmt.Errorf("%w: tenant %q, destination %q", ErrUnfileableAttempt, first.TenantID, first.DestinationID)
	}
	batch := &plugsv1.DeliveryAttemptBatch{Entries: make([]*plugsv1.DeliveryAttemptEntry, len(as))}
	ids := make([]string, len(as))
	for i, a := range as {
		if a.TenantID != first.TenantID || a.DestinationID != first.DestinationID {
			return fmt.Errorf("%w: destinations %s/%s and %s/%s", ErrMixedBatch, first.TenantID, first.DestinationID, a.TenantID, a.DestinationID)
		}
		batch.Entries[i] = &plugsv1.DeliveryAttemptEntry{Attempt: AttemptProto(a, node), DeliverySeq: a.DeliverySeq}
		ids[i] = a.ID
	}
	data, err := proto.Marshal(batch)
	if err != nil {
		return err
	}
	m := nats.NewMsg(backbone.AttemptSubject(first.TenantID, first.DestinationID))
	m.Data = data
	m.Header.Set(HeaderTenantID, first.TenantID)
	m.Header.Set(backbone.BatchHeader, strconv.Itoa(len(as)))
	_, err = js.PublishMsg(ctx, m, jetstream.WithMsgID(backbone.BatchMsgID(ids)), jetstream.WithExpectStream(backbone.AttemptsStream))
	return err
}

var attemptOutcomes = map[Outcome]plugsv1.DeliveryAttempt_Outcome{
	Delivered:    plugsv1.DeliveryAttempt_OUTCOME_DELIVERED,
	Retrying:     plugsv1.DeliveryAttempt_OUTCOME_RETRYING,
	DeadLettered: plugsv1.DeliveryAttempt_OUTCOME_DEAD_LETTERED,
}

// AttemptProto renders an attempt made by data-plane node as the API
// shows it.
func AttemptProto(a Attempt, node string) *plugsv1.DeliveryAttempt {
	out := &plugsv1.DeliveryAttempt{
		Id:              a.ID,
		DestinationId:   a.DestinationID,
		UsageEventId:    a.EventID,
		ProviderEventId: a.ProviderEventID,
		EventType:       a.EventType,
		SourceId:        a.SourceID,
		Attempt:         int32(min(a.Number, math.MaxInt32)),
		StatusCode:      int32(min(a.StatusCode, math.MaxInt32)),
		Latency:         durationpb.New(a.Latency),
		Outcome:         attemptOutcomes[a.Outcome],
		DataPlane:       node,
	}
	if !a.Time.IsZero() {
		out.AttemptTime = timestamppb.New(a.Time)
	}
	if a.Err != nil {
		out.Error = a.Err.Error()
	}
	if !a.NextRetry.IsZero() {
		out.NextRetryTime = timestamppb.New(a.NextRetry)
	}
	return out
}
