package listenfeed

import "errors"

// ErrBackbone means the backbone did not answer: the stream can be opened
// again, from its last cursor, once it does.
var ErrBackbone = errors.New("listenfeed: backbone unavailable")
