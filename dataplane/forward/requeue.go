package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/internal/tracing"
)

// RetryDelivery queues again, as a new delivery to destination destID, the
// delivery of usage event eventID held at sequence seq of
// backbone.DeliveriesStream (Attempt.DeliverySeq), whatever became of it:
// delivered, retrying or dead. The new delivery counts its attempts from 1
// and its max_age from now, and carries the same event, so the destination
// sees the same webhook-id. Each call queues one more delivery. It returns
// ErrDeliveryGone when the stream no longer holds that delivery.
func RetryDelivery(ctx context.Context, js jetstream.JetStream, destID string, seq uint64, eventID string) error {
	if err := checkID(destID); err != nil {
		return err
	}
	stream, err := js.Stream(ctx, backbone.DeliveriesStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: no stream %s", ErrDeliveryGone, backbone.DeliveriesStream)
	}
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrBackbone, backbone.DeliveriesStream, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: sequence %d", ErrDeliveryGone, seq)
	}
	if err != nil {
		return fmt.Errorf("%w: read delivery %d: %w", ErrBackbone, seq, err)
	}
	// A stream created anew numbers its messages from 1 again: the
	// sequence must still hold this destination's delivery of this event.
	if raw.Subject != backbone.DeliverySubject(destID) || deliveryEventID(raw) != eventID {
		return fmt.Errorf("%w: sequence %d holds another delivery", ErrDeliveryGone, seq)
	}
	// A fresh id: the stream must not take it for the delivery it copies,
	// nor for an earlier retry of it.
	if err := requeue(ctx, js, destID, raw, "retry:"+uuid.Must(uuid.NewV7()).String()); err != nil {
		return fmt.Errorf("%w: retry delivery %d: %w", ErrBackbone, seq, err)
	}
	return nil
}

// requeue publishes a delivery or a dead letter of destID again as a new
// delivery with message id msgID. Being a new message, its attempts count
// from 1; HeaderRedriven restarts its max_age; when the webhook was
// accepted is kept.
func requeue(ctx context.Context, js jetstream.JetStream, destID string, raw *jetstream.RawStreamMsg, msgID string) error {
	m := nats.NewMsg(backbone.DeliverySubject(destID))
	m.Data = raw.Data
	for _, k := range []string{HeaderEventID, HeaderAccepted} {
		if v := raw.Header.Get(k); v != "" {
			m.Header.Set(k, v)
		}
	}
	m.Header.Set(HeaderDestinationID, destID)
	m.Header.Set(HeaderRedriven, time.Now().UTC().Format(time.RFC3339Nano))
	// A re-driven or retried delivery stays in the trace of its webhook.
	tracing.Copy(m.Header, raw.Header)
	_, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(backbone.DeliveriesStream))
	return err
}

// deliveryEventID is the usage event id of a stored delivery: its header,
// or the event's own id.
func deliveryEventID(raw *jetstream.RawStreamMsg) string { return backbone.StoredEventID(raw) }
