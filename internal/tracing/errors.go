package tracing

import "errors"

// ErrConfig means the tracing settings are invalid: an endpoint that is
// not an http(s) URL, a sample ratio outside [0, 1]. The process should
// not start with them.
var ErrConfig = errors.New("tracing: invalid configuration")

// ErrExporter means the OTLP exporter could not be built.
var ErrExporter = errors.New("tracing: OTLP exporter")
