package receipts

import "errors"

var (
	// ErrMalformed means a message on the receipts stream is not a receipt
	// the index can hold: it does not decode, or its ids do not parse or
	// disagree with its subject. Nothing can index it later either, so the
	// indexer terminates it instead of retrying.
	ErrMalformed = errors.New("receipts: malformed receipt")
	// ErrRunning means Run was called on an Indexer that is already
	// running.
	ErrRunning = errors.New("receipts: indexer already running")
)
