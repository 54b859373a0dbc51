package replay

import "errors"

var (
	// ErrNoBackbone means the control plane runs without JetStream, where
	// replayed events are stored: nothing can be replayed.
	ErrNoBackbone = errors.New("replay: no backbone configured")
	// ErrBodyTruncated means the receipt holds only the start of the body
	// it records, which cannot verify again: the body was over the
	// receipt's limit, or could not be read whole (body_unreadable).
	ErrBodyTruncated = errors.New("replay: the receipt holds only the start of the body")
	// ErrReplayOfReplay means the receipt records a replay. Only original
	// webhooks are replayed: the replay of a replay bypassing dedup would
	// store the same webhook once more each time.
	ErrReplayOfReplay = errors.New("replay: the receipt records a replay; replay the original")
	// ErrSourceGone means the receipt's source no longer exists.
	ErrSourceGone = errors.New("replay: the source no longer exists")
	// ErrCancelled is the cause of a walk stopped because its operation
	// was cancelled, as opposed to the control plane shutting down.
	ErrCancelled = errors.New("replay: operation cancelled")
	// ErrRunning means Run was called on a Runner that is already running.
	ErrRunning = errors.New("replay: runner already running")
)

// errStopped means a walk found its operation no longer running under its
// replica: cancelled, or taken over by another replica after this one
// went quiet for too long.
var errStopped = errors.New("replay: operation no longer running here")
