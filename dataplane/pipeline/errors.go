package pipeline

import "errors"

// ErrBackboneUnavailable is what a Sink returns (wrapped) when it cannot
// store an event in time; the webhook is answered 503 and the provider
// retries.
var ErrBackboneUnavailable = errors.New("pipeline: backbone unavailable")

// errTooLarge means a body exceeds the source's limit.
var errTooLarge = errors.New("pipeline: body exceeds the source's limit")
