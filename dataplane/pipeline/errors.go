package pipeline

import "errors"

// errTooLarge means a body exceeds the source's limit.
var errTooLarge = errors.New("pipeline: body exceeds the source's limit")
