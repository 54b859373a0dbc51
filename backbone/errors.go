package backbone

import "errors"

var (
	// ErrUnavailable means the backbone did not confirm a write in time:
	// nothing is known to be stored, and the webhook must be retried.
	ErrUnavailable = errors.New("backbone: unavailable")
	// ErrDuplicate means an event with the same source and provider event
	// id is already stored within the dedup window.
	ErrDuplicate = errors.New("backbone: duplicate event")
)
