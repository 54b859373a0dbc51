package streamindex

import "errors"

// ErrNoRows means a message decoded into no rows at all (an empty batch):
// nothing in it can be indexed, so it is terminated as malformed.
var ErrNoRows = errors.New("streamindex: message holds no rows")
