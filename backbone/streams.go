package backbone

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventsStream holds every accepted usage event, one subject per (source,
// provider event id). At most one message may exist on a subject, and a
// publish that expects the subject to be empty is refused by the server
// when it is not: that refusal is the dedup, atomic with the store. Each
// message lives for its source's dedup window (a per-message TTL).
const EventsStream = "PLUGS_EVENTS"

// eventsSubjects is the subject space of EventsStream.
const eventsSubjects = "plugs.events.>"

// MaxDedupWindow bounds per-message TTLs and is the stream's own MaxAge.
const MaxDedupWindow = 31 * 24 * time.Hour

// StreamOptions configure the streams Plugs creates.
type StreamOptions struct {
	// Replicas is the number of copies of each stream: 1 for a single
	// server, 3 in a production cluster.
	Replicas int
}

// EnsureStreams creates or updates the streams Plugs uses.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	cfg := jetstream.StreamConfig{
		Name:                 EventsStream,
		Description:          "Plugs usage events: one per source and provider event id, kept for the dedup window",
		Subjects:             []string{eventsSubjects},
		Storage:              jetstream.FileStorage,
		Retention:            jetstream.LimitsPolicy,
		MaxMsgsPerSubject:    1,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		AllowMsgTTL:          true,
		MaxAge:               MaxDedupWindow,
		Replicas:             o.Replicas,
		// The server's own publish-id dedup is not needed: subjects are the
		// ids. Keep its window small.
		Duplicates: time.Minute,
	}
	_, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			return fmt.Errorf("backbone: stream %s: %w", EventsStream, err)
		}
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, EventsStream, err)
	}
	return nil
}
