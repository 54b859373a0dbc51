package backbone

import "errors"

var (
	// ErrUnavailable means the backbone did not confirm a write in time:
	// nothing is known to be stored, and the webhook must be retried.
	ErrUnavailable = errors.New("backbone: unavailable")
	// ErrDuplicate means an event with the same source and provider event
	// id is already stored within the dedup window.
	ErrDuplicate = errors.New("backbone: duplicate event")
	// ErrListen means the embedded server could not listen on its address,
	// taken by another process say; the error names the address.
	ErrListen = errors.New("backbone: embedded NATS cannot listen")
	// ErrNotStarted means the embedded server failed to start for another
	// reason (its file store, say), or did not accept connections in time.
	ErrNotStarted = errors.New("backbone: embedded server did not start")
)
