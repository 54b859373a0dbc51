package forward

import (
	"slices"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Destinations is where the forwarder reads the destination configuration:
// an adapter over the data plane's configuration snapshot (whose
// DestinationsFor is ForEvent), or a static list in tests. Implementations
// must be safe for concurrent use and cheap: ForEvent runs once per event,
// All once per reconciliation. The forwarder never modifies a returned
// configuration, and implementations must not either: replace it.
type Destinations interface {
	// ForEvent returns the destinations an event of the tenant's source is
	// routed to (see Routes), paused ones included: a paused destination
	// keeps its deliveries until it is resumed.
	ForEvent(tenantID, sourceID string) []*plugsv1.DestinationConfig
	// All returns every destination, of every tenant.
	All() []*plugsv1.DestinationConfig
	// Deleted returns the ids of destinations deleted explicitly. Only
	// these have their consumer and queued deliveries removed: one merely
	// missing from All keeps its deliveries until it is back.
	Deleted() []string
}

// Routes reports whether d takes the events of the tenant's source: d
// belongs to the tenant and lists no sources or lists this one. The router
// applies it again to what ForEvent returns, so a provider bug cannot send
// one tenant's usage to another tenant's endpoint.
func Routes(d *plugsv1.DestinationConfig, tenantID, sourceID string) bool {
	if d == nil || d.GetTenantId() != tenantID {
		return false
	}
	return len(d.GetSourceIds()) == 0 || slices.Contains(d.GetSourceIds(), sourceID)
}
