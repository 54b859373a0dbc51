package datadir

import (
	"errors"
	"fmt"
)

// ErrInUse means another process holds the data directory's lock; the
// error is an *InUseError naming it.
var ErrInUse = errors.New("datadir: data directory in use")

// errLocked is what lock returns when another process holds the lock.
var errLocked = errors.New("locked")

// InUseError names the process holding a data directory.
type InUseError struct {
	Dir string
	// Holder is nil when the lock file could not be read.
	Holder *Holder
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("data directory %s is in use by %s", e.Dir, e.Holder.Describe())
}

// Unwrap makes errors.Is(err, ErrInUse) hold.
func (e *InUseError) Unwrap() error { return ErrInUse }
