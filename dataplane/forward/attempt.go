package forward

import (
	"time"

	"github.com/plugshq/plugs/backbone"
)

// Attempt records one delivery attempt, for a delivery log. Options.OnAttempt
// receives one per request sent, after its outcome is settled in the
// stream (acknowledged, scheduled for retry, or dead-lettered).
type Attempt struct {
	// ID identifies the attempt in the delivery log: a UUIDv7, so a log
	// entry published or indexed twice is stored once.
	ID            string
	DestinationID string
	// TenantID, SourceID, ProviderEventID and EventType are the usage
	// event's, so the log can be filed under its tenant and searched
	// without reading the event again.
	TenantID        string
	SourceID        string
	ProviderEventID string
	EventType       string
	// EventID is the usage event's id, also the CloudEvents id and the
	// webhook-id the destination saw.
	EventID string
	// Number counts attempts from 1. A re-driven or retried delivery
	// starts again at 1.
	Number int
	// DeliverySeq is the delivery's sequence in backbone.DeliveriesStream,
	// where RetryDelivery finds it to queue it again.
	DeliverySeq uint64
	// Time is when the request was sent.
	Time time.Time
	// StatusCode is the destination's answer, 0 when there was none.
	StatusCode int
	Latency    time.Duration
	// Err is nil when the event was delivered; otherwise it wraps
	// ErrRequest (no answer) or ErrStatus (a non-2xx answer).
	Err     error
	Outcome Outcome
	// NextRetry is when the next attempt is due, zero unless Outcome is
	// Retrying.
	NextRetry time.Time
}

// Outcome is what became of a delivery after an attempt.
type Outcome int

const (
	// Delivered means the destination took the event (2xx).
	Delivered Outcome = iota + 1
	// Retrying means another attempt is scheduled.
	Retrying
	// DeadLettered means no further attempt will be made; the delivery is
	// in the dead letters.
	DeadLettered
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retrying:
		return "retrying"
	case DeadLettered:
		return "dead_lettered"
	}
	return "unknown"
}

// Reason says why a delivery was dead-lettered.
type Reason string

const (
	// ReasonRejected: the destination answered with a status that is not
	// retried (most 4xx), or the egress guard refused its address.
	ReasonRejected Reason = "rejected"
	// ReasonAttemptsExhausted: the retry policy's max_attempts were made.
	ReasonAttemptsExhausted Reason = "attempts_exhausted"
	// ReasonExpired: the retry policy's max_age since the event was
	// accepted (or re-driven) has passed, or would pass before the next
	// attempt.
	ReasonExpired Reason = "expired"
	// ReasonMalformed: the delivery holds no usage event.
	ReasonMalformed Reason = "malformed"
)

// Headers of the messages in the deliveries and dead-letter streams. They
// are what an operator sees with `nats stream view`, so they are spelled
// out rather than packed into the body.
const (
	// HeaderEventID is the usage event's id.
	HeaderEventID = backbone.EventIDHeader
	// HeaderDestinationID names the destination.
	HeaderDestinationID = "Plugs-Destination-Id"
	// HeaderAccepted is when the webhook was accepted (RFC 3339): the
	// start of the retry policy's max_age.
	HeaderAccepted = "Plugs-Accepted"
	// HeaderRedriven is when a dead letter was re-driven, or a delivery
	// retried (RFC 3339); the max_age clock restarts there.
	HeaderRedriven = "Plugs-Redriven"
	// HeaderAttempts is the number of attempts made (dead letters).
	HeaderAttempts = "Plugs-Attempts"
	// HeaderLastStatus is the last HTTP status, 0 for none (dead letters).
	HeaderLastStatus = "Plugs-Last-Status"
	// HeaderLastError is the last attempt's error (dead letters).
	HeaderLastError = "Plugs-Last-Error"
	// HeaderReason is a Reason (dead letters).
	HeaderReason = "Plugs-Dead-Reason"
)
