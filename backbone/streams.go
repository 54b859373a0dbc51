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

// DeliveriesStream holds one message per (usage event, destination) to
// deliver, on DeliverySubject(destinationID). The forwarder's router writes
// it with Nats-Msg-Id "<event id>:<destination id>", so an event routed twice
// (a redelivery after a crash) is stored once; each destination's deliverer
// consumes its own subject. Delivered messages stay until MaxAge so recent
// deliveries can be inspected; retention is by limits, not by acks.
const DeliveriesStream = "PLUGS_DELIVERIES"

// DeadStream holds the deliveries a destination never took, on
// DeadSubject(destinationID), with headers saying why, until they are
// re-driven or age out.
const DeadStream = "PLUGS_DEAD"

const (
	deliveriesSubjects = "plugs.deliveries.>"
	deadSubjects       = "plugs.dead.>"
)

// DeliveriesMaxAge bounds how long a delivery waits, paused destination or
// not: past the longest retry policy (80 h by default) with room for a long
// pause.
const DeliveriesMaxAge = 8 * 24 * time.Hour

// DeliveriesDedupWindow is how long the server remembers a Nats-Msg-Id on
// DeliveriesStream and DeadStream. It must outlast the router's ack wait:
// an event is only routed again when its ack was lost, which shows within
// seconds, not minutes.
const DeliveriesDedupWindow = 10 * time.Minute

// DeadMaxAge is how long a dead letter is kept for re-driving.
const DeadMaxAge = 30 * 24 * time.Hour

// DeliverySubject is where the deliveries of a destination are queued.
func DeliverySubject(destinationID string) string { return "plugs.deliveries." + destinationID }

// DeadSubject is where the dead letters of a destination are kept.
func DeadSubject(destinationID string) string { return "plugs.dead." + destinationID }

// ReceiptsStream holds a receipt of every request that named a known
// source and passed verification, raw body included, published by the
// data planes off the request path, several of one source to a message
// under load (BatchHeader); the control plane indexes them for queries.
const ReceiptsStream = "PLUGS_RECEIPTS"

// UnverifiedReceiptsStream holds the receipts of requests that did not
// pass verification (Receipt.unverified), apart from ReceiptsStream:
// anyone who knows a source's id can send such requests, and when they
// fill this stream its byte limit discards its own oldest receipts, never
// those of verified webhooks.
const UnverifiedReceiptsStream = "PLUGS_UNVERIFIED_RECEIPTS"

// DefaultReceiptRetention is how long receipts are kept when the operator
// sets nothing.
const DefaultReceiptRetention = 30 * 24 * time.Hour

// Default byte limits of the receipts streams. The streams only carry
// receipts to the control plane's index, which keeps them for queries, so
// these are what a control plane that is away can fall behind by before
// the oldest receipts are discarded unindexed: a few days of receipts at
// a million webhooks a day. JetStream reserves them against the server's
// max_file_store.
const (
	DefaultReceiptMaxBytes           = 8 << 30
	DefaultUnverifiedReceiptMaxBytes = 1 << 30
)

// ReceiptSubject is where receipts of a tenant's source are published.
func ReceiptSubject(tenantID, sourceID string) string {
	return "plugs.receipts." + tenantID + "." + sourceID
}

// UnverifiedReceiptSubject is where receipts of a tenant's source that did
// not pass verification are published.
func UnverifiedReceiptSubject(tenantID, sourceID string) string {
	return "plugs.unverified-receipts." + tenantID + "." + sourceID
}

// receiptBatchToken takes a source id's place in the subject of a batch of
// receipts of several sources; source ids are UUIDs, so no source's
// subject is a batch's.
const receiptBatchToken = "batch"

// ReceiptBatchSubject is where a batch of receipts of several of a
// tenant's sources is published (a batch of one source's receipts goes to
// that source's subject). Without it, load spread over many sources would
// make every batch a single receipt. Readers of one source's receipts
// read this subject too, keeping that source's.
func ReceiptBatchSubject(tenantID string) string { return ReceiptSubject(tenantID, receiptBatchToken) }

// UnverifiedReceiptBatchSubject is ReceiptBatchSubject for receipts of
// requests that did not pass verification.
func UnverifiedReceiptBatchSubject(tenantID string) string {
	return UnverifiedReceiptSubject(tenantID, receiptBatchToken)
}

// AttemptsStream holds the delivery log: an entry per request a data
// plane made to a destination (several of one destination to a message
// under load, see BatchHeader), published off the delivery path; the
// control plane indexes them for queries. Kept as long as receipts.
const AttemptsStream = "PLUGS_ATTEMPTS"

// AttemptSubject is where the attempts of a tenant's destination are
// published.
func AttemptSubject(tenantID, destinationID string) string {
	return "plugs.attempts." + tenantID + "." + destinationID
}

// StreamOptions configure the streams Plugs creates.
type StreamOptions struct {
	// Replicas is the number of copies of each stream: 1 for a single
	// server, 3 in a production cluster.
	Replicas int
	// ReceiptRetention is how long receipts, and delivery attempts, stay
	// in their streams; zero means DefaultReceiptRetention.
	ReceiptRetention time.Duration
	// ReceiptMaxBytes and UnverifiedReceiptMaxBytes bound ReceiptsStream
	// and UnverifiedReceiptsStream: past them the stream discards its
	// oldest receipts. Zero means the default, negative no bound.
	ReceiptMaxBytes, UnverifiedReceiptMaxBytes int64
	// GroupCommit lets EventsStream take atomic batches, which
	// EventStore.GroupCommit sends (nats-server 2.12 or newer).
	GroupCommit bool
}

// maxBytes is a stream's byte limit from an option: def for zero, none
// (-1) for a negative one.
func maxBytes(o, def int64) int64 {
	switch {
	case o == 0:
		return def
	case o < 0:
		return -1
	}
	return o
}

// EnsureStreams creates or updates the streams Plugs uses.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.ReceiptRetention <= 0 {
		o.ReceiptRetention = DefaultReceiptRetention
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
		Duplicates:         time.Minute,
		AllowAtomicPublish: o.GroupCommit,
	}
	deliveries := jetstream.StreamConfig{
		Name:        DeliveriesStream,
		Description: "Plugs deliveries: one per usage event and destination, consumed per destination",
		Subjects:    []string{deliveriesSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      DeliveriesMaxAge,
		Replicas:    o.Replicas,
		Duplicates:  DeliveriesDedupWindow,
	}
	dead := jetstream.StreamConfig{
		Name:        DeadStream,
		Description: "Plugs dead letters: deliveries a destination never took, kept for re-driving",
		Subjects:    []string{deadSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      DeadMaxAge,
		Replicas:    o.Replicas,
		// A dead letter is written with an id derived from the delivery, so
		// a retry after a lost publish ack does not store it twice.
		Duplicates: DeliveriesDedupWindow,
	}
	receipts := logStream(o, ReceiptsStream, "plugs.receipts.>",
		"Plugs receipts: every verified request to a known source with its raw body, outcome and cause",
		maxBytes(o.ReceiptMaxBytes, DefaultReceiptMaxBytes))
	unverified := logStream(o, UnverifiedReceiptsStream, "plugs.unverified-receipts.>",
		"Plugs receipts of requests that did not pass verification, bodies cut to their start",
		maxBytes(o.UnverifiedReceiptMaxBytes, DefaultUnverifiedReceiptMaxBytes))
	attempts := logStream(o, AttemptsStream, "plugs.attempts.>",
		"Plugs delivery log: every request made to a destination, its answer and what became of the delivery", 0)
	for _, c := range []jetstream.StreamConfig{cfg, deliveries, dead, receipts, unverified, attempts} {
		if err := ensureStream(ctx, js, c); err != nil {
			return err
		}
	}
	return nil
}

// logStream is the configuration of a stream that carries records to the
// control plane's index (receipts, the delivery log): kept for the receipt
// retention, within maxBytes (0: no bound), the oldest discarded first.
// Each record is published with its own id as Nats-Msg-Id, or a batch of
// one subject's records with an id derived from theirs (BatchMsgID),
// retried within seconds when a confirmation is lost.
func logStream(o StreamOptions, name, subjects, description string, maxBytes int64) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: description,
		Subjects:    []string{subjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.ReceiptRetention,
		MaxBytes:    maxBytes,
		Replicas:    o.Replicas,
		Duplicates:  time.Minute,
	}
}

// codeStorageExceeded is the server's answer to a stream whose byte limit
// is more than its max_file_store has left to reserve.
const codeStorageExceeded = 10047

func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	_, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == codeStorageExceeded {
			return fmt.Errorf("backbone: stream %s: %w (its byte limit, %d, is more than the server's max_file_store has left: lower the limit or raise max_file_store)",
				cfg.Name, err, cfg.MaxBytes)
		}
		if errors.As(err, &apiErr) {
			return fmt.Errorf("backbone: stream %s: %w", cfg.Name, err)
		}
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, cfg.Name, err)
	}
	return nil
}
