package forward

import "errors"

var (
	// ErrInvalidDestination means a destination cannot be delivered to as
	// configured: an id that cannot name a subject and a consumer, a URL
	// that is not http(s), or a shared key that is missing or malformed.
	// Its deliveries wait in the stream until the configuration is fixed.
	ErrInvalidDestination = errors.New("forward: invalid destination")
	// ErrRequest means an attempt got no response: the connection failed
	// or was refused by the egress guard, or the destination's timeout
	// passed. It is retried, except for an egress refusal.
	ErrRequest = errors.New("forward: request failed")
	// ErrStatus means the destination answered with a status other than
	// 2xx. Whether it is retried depends on the status and the retry
	// policy.
	ErrStatus = errors.New("forward: destination refused the delivery")
	// ErrMalformedDelivery means a message in the deliveries stream does
	// not hold a usage event. It is dead-lettered without an attempt.
	ErrMalformedDelivery = errors.New("forward: malformed delivery")
	// ErrBackbone means a read or write on JetStream failed; nothing was
	// changed that the caller can rely on, and the call may be repeated.
	ErrBackbone = errors.New("forward: backbone unavailable")
	// ErrDeliveryGone means a delivery is no longer held by
	// backbone.DeliveriesStream: it aged out (backbone.DeliveriesMaxAge),
	// or the stream was created anew. It cannot be retried.
	ErrDeliveryGone = errors.New("forward: delivery no longer held")
	// ErrUnfileableAttempt means an attempt's tenant or destination id
	// cannot name its subject in backbone.AttemptsStream, so it is left
	// out of the delivery log.
	ErrUnfileableAttempt = errors.New("forward: attempt cannot be filed in the delivery log")
	// ErrMixedBatch means attempts of different destinations were handed
	// to PublishAttempts: one message must only carry one destination's
	// attempts, or a reader filtering by subject would see another's.
	ErrMixedBatch = errors.New("forward: attempt batch mixes destinations")
	// ErrRunning means Run was called on a Forwarder that is already
	// running.
	ErrRunning = errors.New("forward: already running")
)
