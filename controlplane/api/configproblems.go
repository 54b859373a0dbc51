package api

import plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"

// ConfigProblems says why the control plane cannot build the configuration
// data planes need for a source or destination (config.Cache, which
// withholds such entries so data planes keep what they hold). Nil means
// it can.
type ConfigProblems interface {
	SourceError(id string) *plugsv1.ConfigurationError
	DestinationError(id string) *plugsv1.ConfigurationError
}
