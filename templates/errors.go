package templates

import "errors"

// ErrNotFound means no built-in template has the id.
var ErrNotFound = errors.New("templates: not found")
