package listenfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// reader is one session's view of a stream (api.ListenReader).
type reader struct {
	js     jetstream.JetStream
	stream string
	kind   string
	tenant string
	log    *slog.Logger
	// cons and iter are nil when there is nothing to read.
	cons jetstream.Consumer
	iter jetstream.MessagesContext
	// last is the stream sequence of the last message read, or where
	// reading started.
	last uint64
}

// Next implements api.ListenReader.
func (r *reader) Next(ctx context.Context) (*plugsv1.ListenEvent, error) {
	if r.iter == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	for {
		msg, err := r.iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: %w", ErrBackbone, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return nil, fmt.Errorf("%w: message without metadata: %w", ErrBackbone, err)
		}
		r.last = md.Sequence.Stream
		var ev *plugsv1.ListenEvent
		if r.kind == streamReceipts {
			ev = r.fromReceipt(msg)
		} else {
			ev = r.fromEvent(msg)
		}
		if ev != nil {
			return ev, nil
		}
	}
}

// fromEvent reads a stored usage event; nil for one that cannot be read or
// is not the tenant's (the filter already keeps to the tenant's sources).
func (r *reader) fromEvent(msg jetstream.Msg) *plugsv1.ListenEvent {
	ue := &plugsv1.UsageEvent{}
	if err := proto.Unmarshal(msg.Data(), ue); err != nil {
		r.log.Warn("listen: stored event cannot be decoded; skipped", "subject", msg.Subject(), "seq", r.last, "error", err)
		return nil
	}
	if ue.GetTenantId() != r.tenant {
		return nil
	}
	// The id destinations get it under, as backbone.StoredEventID reads
	// it: the header, else the event's own.
	id := msg.Headers().Get(backbone.EventIDHeader)
	if id == "" {
		id = ue.GetId()
	}
	ue.Id = id
	return &plugsv1.ListenEvent{
		SourceId:        ue.GetSourceId(),
		ReceiveTime:     ue.GetReceiveTime(),
		EventType:       ue.GetEventType(),
		ProviderEventId: ue.GetEventId(),
		UsageEventId:    id,
		UsageEvent:      ue,
	}
}

// fromReceipt reads the receipt of an accepted request; nil for any other
// receipt, one that cannot be read, or one not the tenant's.
func (r *reader) fromReceipt(msg jetstream.Msg) *plugsv1.ListenEvent {
	rc := &plugsv1.Receipt{}
	if err := proto.Unmarshal(msg.Data(), rc); err != nil {
		r.log.Warn("listen: stored receipt cannot be decoded; skipped", "subject", msg.Subject(), "seq", r.last, "error", err)
		return nil
	}
	if rc.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || rc.GetTenantId() != r.tenant {
		return nil
	}
	return &plugsv1.ListenEvent{
		SourceId:        rc.GetSourceId(),
		ReceiveTime:     rc.GetReceiveTime(),
		EventType:       rc.GetEventType(),
		ProviderEventId: rc.GetProviderEventId(),
		UsageEventId:    rc.GetUsageEventId(),
		Request: &plugsv1.ListenRequestReceived{
			ReceiptId:     rc.GetId(),
			Method:        rc.GetMethod(),
			RequestUri:    rc.GetRequestUri(),
			Headers:       rc.GetHeaders(),
			Body:          rc.GetBody(),
			BodyTruncated: rc.GetBodyTruncated(),
		},
	}
}

// Cursor implements api.ListenReader.
func (r *reader) Cursor() string { return encodeCursor(r.kind, r.last) }

// Close implements api.ListenReader: it stops reading and deletes the
// consumer rather than leaving it to InactiveThreshold.
func (r *reader) Close() {
	if r.iter == nil {
		return
	}
	r.iter.Stop()
	info := r.cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.js.DeleteConsumer(ctx, r.stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.log.Debug("listen: consumer not deleted; the backbone removes it once inactive", "consumer", info.Name, "error", err)
	}
}
