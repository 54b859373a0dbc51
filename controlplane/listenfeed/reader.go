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
	// sources are the source ids read, whose receipts are kept from a
	// batch on the tenant's batch subject.
	sources map[string]bool
	log     *slog.Logger
	// cons and iter are nil when there is nothing to read.
	cons jetstream.Consumer
	iter jetstream.MessagesContext
	// last is the stream sequence of the last message read, or where
	// reading started.
	last uint64
	// batch holds the receipts of message last, next the first of them
	// not returned yet.
	batch []*plugsv1.Receipt
	next  int
	// partial is where a cursor taken part way through a batch pointed:
	// the first partial.done receipts of message partial.seq were read.
	// Zero once that message has been read again.
	partial position
}

// Next implements api.ListenReader.
func (r *reader) Next(ctx context.Context) (*plugsv1.ListenEvent, error) {
	if r.iter == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	for {
		if r.next < len(r.batch) {
			rc := r.batch[r.next]
			r.next++
			if ev := r.fromReceipt(rc); ev != nil {
				return ev, nil
			}
			continue
		}
		r.batch, r.next = nil, 0
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
		if r.kind == streamReceipts {
			r.batch = r.receipts(msg)
			if r.partial.seq == r.last {
				r.next = min(r.partial.done, len(r.batch))
			}
			r.partial = position{}
			continue
		}
		if ev := r.fromEvent(msg); ev != nil {
			return ev, nil
		}
	}
}

// receipts reads the receipts a message of the receipts stream carries:
// one, or a batch (backbone.BatchHeader). Those not filed under the
// message's subject are left out: the subject is what the consumer
// filters on, so a receipt of another source must never ride on it. On
// the tenant's batch subject, which carries receipts of several of its
// sources, those of the tenant's sources asked for are kept. A message
// that cannot be read gives none.
func (r *reader) receipts(msg jetstream.Msg) []*plugsv1.Receipt {
	var rcs []*plugsv1.Receipt
	if msg.Headers().Get(backbone.BatchHeader) != "" {
		b := &plugsv1.ReceiptBatch{}
		if err := proto.Unmarshal(msg.Data(), b); err != nil {
			r.log.Warn("listen: stored receipt batch cannot be decoded; skipped", "subject", msg.Subject(), "seq", r.last, "error", err)
			return nil
		}
		rcs = b.GetReceipts()
	} else {
		rc := &plugsv1.Receipt{}
		if err := proto.Unmarshal(msg.Data(), rc); err != nil {
			r.log.Warn("listen: stored receipt cannot be decoded; skipped", "subject", msg.Subject(), "seq", r.last, "error", err)
			return nil
		}
		rcs = []*plugsv1.Receipt{rc}
	}
	shared := msg.Subject() == backbone.ReceiptBatchSubject(r.tenant)
	for i, rc := range rcs {
		mine := backbone.ReceiptSubject(rc.GetTenantId(), rc.GetSourceId()) == msg.Subject()
		if shared {
			mine = rc.GetTenantId() == r.tenant && r.sources[rc.GetSourceId()]
		}
		if !mine {
			// Keep the positions, which cursors count in; drop the receipt.
			rcs[i] = nil
		}
	}
	return rcs
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
// receipt, or one not the tenant's (or left out, nil).
func (r *reader) fromReceipt(rc *plugsv1.Receipt) *plugsv1.ListenEvent {
	if rc == nil {
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
func (r *reader) Cursor() string {
	switch {
	case r.partial.seq != 0:
		// Not back at the batch the cursor opened in yet.
		return encodeCursor(r.kind, r.partial)
	case r.next < len(r.batch):
		return encodeCursor(r.kind, position{seq: r.last, done: r.next})
	}
	return encodeCursor(r.kind, position{seq: r.last})
}

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
