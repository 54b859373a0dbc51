package backbone

// SourceEventsFilter is the subject filter of every event of a source in
// EventsStream, whatever its kind (see Subject): what a consumer reading
// one source's events asks for.
func SourceEventsFilter(sourceID string) string {
	return "plugs.events." + sourceID + ".>"
}
