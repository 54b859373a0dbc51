package config

import "errors"

// ErrUnbuildable means a stored source or destination cannot be turned
// into the configuration data planes run: a secret or shared key that does
// not open under the master keys held, a template this binary does not
// know, a stored setting that does not decode. It is a *BuildError; the
// entry is withheld from data planes, which keep the version they hold.
var ErrUnbuildable = errors.New("config: configuration cannot be built")

// Causes of a BuildError, as plugs.v1.ConfigurationError.cause names them.
const (
	// CauseKeyUnknown: sealed under a master key the keyring does not hold.
	CauseKeyUnknown = "master_key_unknown"
	// CauseDoesNotOpen: the ciphertext does not authenticate under its key.
	CauseDoesNotOpen = "secret_does_not_open"
	// CauseTemplateUnknown: the source relies on a template this binary
	// does not have.
	CauseTemplateUnknown = "template_unknown"
	// CauseSettingUnreadable: a stored setting does not decode.
	CauseSettingUnreadable = "setting_unreadable"
)

// BuildError says why an entry could not be built.
type BuildError struct {
	// Cause is one of the Cause constants.
	Cause string
	Err   error
}

func (e *BuildError) Error() string { return e.Err.Error() }

// Unwrap makes errors.Is(err, ErrUnbuildable) hold.
func (e *BuildError) Unwrap() []error { return []error{ErrUnbuildable, e.Err} }
