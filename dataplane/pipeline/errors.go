package pipeline

import "errors"

// errTooLarge means a body exceeds the source's limit.
var errTooLarge = errors.New("pipeline: body exceeds the source's limit")

// errStoreItems marks the store step of a batch some of whose events were
// not stored.
var errStoreItems = errors.New("pipeline: some items of a batch were not stored")
