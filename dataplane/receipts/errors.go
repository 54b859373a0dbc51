package receipts

import "errors"

// ErrMixedBatch means receipts of different subjects were handed to
// PublishBatch: one message must only carry one source's receipts, or a
// reader filtering by subject would see another tenant's.
var ErrMixedBatch = errors.New("receipts: batch mixes subjects")
