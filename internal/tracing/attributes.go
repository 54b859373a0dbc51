package tracing

import "go.opentelemetry.io/otel/attribute"

// Span attributes Plugs sets. Ids are attributes of spans only, never
// metric labels; no span carries a body, a header value or a secret.
const (
	SourceID      = attribute.Key("plugs.source.id")
	EventID       = attribute.Key("plugs.event.id")
	EventType     = attribute.Key("plugs.event.type")
	Outcome       = attribute.Key("plugs.outcome")
	Cause         = attribute.Key("plugs.cause")
	DestinationID = attribute.Key("plugs.destination.id")
	Attempt       = attribute.Key("plugs.attempt")
	// StatusCode is the semantic conventions' key, so tools that know
	// HTTP spans read it.
	StatusCode = attribute.Key("http.response.status_code")
)
