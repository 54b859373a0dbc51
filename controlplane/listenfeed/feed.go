// Package listenfeed reads, for the Listen method, the webhooks a tenant's
// sources accepted: usage events from the events stream, or, in raw mode,
// the receipts of accepted requests from the receipts stream. Each session
// reads through an ordered consumer of its own: ephemeral, in memory,
// unacknowledged, filtered to the session's sources and started right
// after the session's cursor, so the server does the filtering and a
// session costs the backbone one light consumer, deleted when the session
// ends (and by the server after InactiveThreshold if the control plane
// dies first).
package listenfeed

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/api"
)

// InactiveThreshold is how long the backbone keeps the consumer of a
// session whose control plane went away without deleting it.
const InactiveThreshold = time.Minute

// maxBuffered bounds what a session's consumer holds in the control
// plane's memory ahead of the stream: a receipt may hold a megabyte.
const maxBuffered = 4 << 20

// openTimeout bounds each call to the backbone when a session opens.
const openTimeout = 10 * time.Second

// Feed reads the backbone (api.ListenFeed).
type Feed struct {
	JS  jetstream.JetStream
	Log *slog.Logger
}

// Open implements api.ListenFeed.
func (f *Feed) Open(ctx context.Context, q api.ListenQuery) (api.ListenReader, error) {
	stream, kind, subjects := backbone.EventsStream, streamEvents, make([]string, 0, len(q.SourceIDs))
	if q.Raw {
		stream, kind = backbone.ReceiptsStream, streamReceipts
	}
	sources := make(map[string]bool, len(q.SourceIDs))
	for _, id := range q.SourceIDs {
		sources[id] = true
		if q.Raw {
			subjects = append(subjects, backbone.ReceiptSubject(q.TenantID, id))
		} else {
			subjects = append(subjects, backbone.SourceEventsFilter(id))
		}
	}
	if q.Raw && len(subjects) > 0 {
		// Receipts of several of the tenant's sources share a message on
		// its batch subject; the reader keeps those of the sources asked.
		subjects = append(subjects, backbone.ReceiptBatchSubject(q.TenantID))
	}
	var resume position
	if q.Resume != "" {
		p, err := decodeCursor(kind, q.Resume)
		if err != nil {
			return nil, err
		}
		resume = p
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	s, err := f.JS.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %w", ErrBackbone, stream, err)
	}
	// Start after the cursor, or after the newest message now. A cursor
	// past the stream's end (a stream created anew) starts at its end:
	// waiting for the stream to reach it would skip what comes first.
	last := s.CachedInfo().State.LastSeq
	after := last
	r := &reader{js: f.JS, stream: stream, kind: kind, tenant: q.TenantID, sources: sources, log: f.log()}
	switch {
	case q.Resume == "":
	case resume.done > 0 && resume.seq <= last:
		// Part way through a batch: read it again, skipping what was read.
		after, r.partial = resume.seq-1, resume
	default:
		after = min(resume.seq, last)
	}
	r.last = after
	if len(subjects) == 0 {
		// Nothing to read (a tenant without sources yet): an unfiltered
		// consumer would read every tenant's webhooks.
		return r, nil
	}
	cons, err := f.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       after + 1,
		InactiveThreshold: InactiveThreshold,
		// Unique per session, recognisable by an operator listing consumers.
		NamePrefix: "plugs-listen-" + kind + "-" + uuid.NewString(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: consumer on %s: %w", ErrBackbone, stream, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxBytes(maxBuffered))
	if err != nil {
		return nil, fmt.Errorf("%w: consume %s: %w", ErrBackbone, stream, err)
	}
	r.cons, r.iter = cons, iter
	return r, nil
}

func (f *Feed) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}
