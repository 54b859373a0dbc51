package sample

import "errors"

var (
	// ErrNoSample means there is no body to send: the template has no
	// sample payload and none was given.
	ErrNoSample = errors.New("sample: the template has no sample payload")
	// ErrEventID means the fresh event id cannot be written where the
	// source's mappings read it, such as a nested path in a form body.
	ErrEventID = errors.New("sample: cannot set the event id")
)
