package snapshot

import "errors"

// ErrInvalidSource means a source in a configuration does not compile; the
// whole configuration is rejected and the previous one kept.
var ErrInvalidSource = errors.New("snapshot: invalid source configuration")

// SourceError names the source that failed to compile.
type SourceError struct {
	ID  string
	Err error
}

func (e *SourceError) Error() string { return "source " + e.ID + ": " + e.Err.Error() }

// Unwrap makes errors.Is(err, ErrInvalidSource) hold.
func (e *SourceError) Unwrap() []error { return []error{ErrInvalidSource, e.Err} }
