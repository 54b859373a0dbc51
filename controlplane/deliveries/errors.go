package deliveries

import "errors"

var (
	// ErrMalformed means a message on the attempts stream is not an
	// attempt the log can hold: it does not decode, or its ids do not
	// parse or disagree with its subject. Nothing can index it later
	// either, so the indexer terminates it instead of retrying.
	ErrMalformed = errors.New("deliveries: malformed attempt")
	// ErrRunning means Run was called on an Indexer that is already
	// running.
	ErrRunning = errors.New("deliveries: indexer already running")
)
