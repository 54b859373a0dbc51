package loadtest

import "errors"

var (
	// ErrStart means a process of the installation under test did not
	// start or did not become ready in time.
	ErrStart = errors.New("loadtest: start")
	// ErrAPI means the REST API refused a call the harness needs.
	ErrAPI = errors.New("loadtest: api")
	// ErrDrain means accepted events were still missing at the
	// destination when the harness stopped waiting for them.
	ErrDrain = errors.New("loadtest: drain")
	// ErrUnsupported means this platform lacks what a measurement reads
	// (/proc for memory figures).
	ErrUnsupported = errors.New("loadtest: unsupported")
)
