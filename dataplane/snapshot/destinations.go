package snapshot

import (
	"fmt"
	"maps"
	"net/url"
	"slices"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// checkDestination refuses a destination a data plane cannot route to, or
// deliver to when needKey is set. The control plane validates them fully;
// this guards the data plane.
func checkDestination(d *plugsv1.DestinationConfig, needKey bool) error {
	if d.GetId() == "" || d.GetTenantId() == "" {
		return fmt.Errorf("%w: destination without id or tenant", ErrInvalidSource)
	}
	u, err := url.Parse(d.GetUrl())
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: destination %s: bad url", ErrInvalidSource, d.GetId())
	}
	if needKey && len(d.GetSharedKey()) == 0 {
		return fmt.Errorf("%w: destination %s: no shared key", ErrInvalidSource, d.GetId())
	}
	return nil
}

// DestinationsFor returns the destinations an event of the tenant's source
// is routed to: the tenant's destinations that take every source or list
// this one. Paused destinations are included (their deliveries wait).
func (c *Config) DestinationsFor(tenantID, sourceID string) []*plugsv1.DestinationConfig {
	if c == nil {
		return nil
	}
	var out []*plugsv1.DestinationConfig
	for _, d := range c.byTenant[tenantID] {
		if len(d.GetSourceIds()) == 0 || slices.Contains(d.GetSourceIds(), sourceID) {
			out = append(out, d)
		}
	}
	return out
}

// Destination returns the destination with id, or nil.
func (c *Config) Destination(id string) *plugsv1.DestinationConfig {
	if c == nil {
		return nil
	}
	return c.Destinations[id]
}

// Routes is the forwarder's view of the destinations of the configuration
// being served.
type Routes struct{ Store *Store }

// ForEvent returns the destinations an event is routed to.
func (r Routes) ForEvent(tenantID, sourceID string) []*plugsv1.DestinationConfig {
	return r.Store.Load().DestinationsFor(tenantID, sourceID)
}

// Deleted returns the destinations deleted explicitly.
func (r Routes) Deleted() []string {
	cfg := r.Store.Load()
	if cfg == nil {
		return nil
	}
	return slices.Collect(maps.Keys(cfg.DeletedDestinations))
}

// All returns every destination.
func (r Routes) All() []*plugsv1.DestinationConfig {
	cfg := r.Store.Load()
	if cfg == nil {
		return nil
	}
	out := make([]*plugsv1.DestinationConfig, 0, len(cfg.Destinations))
	for _, d := range cfg.Destinations {
		out = append(out, d)
	}
	return out
}
