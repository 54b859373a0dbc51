package payload

import "errors"

// ErrUnparsable means a body is not well-formed for its content type: not
// JSON, or a form body that does not decode.
var ErrUnparsable = errors.New("payload: body does not parse")

// ErrBadPath means a JSONPath does not compile.
var ErrBadPath = errors.New("payload: invalid JSONPath")
