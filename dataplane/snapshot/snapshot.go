// Package snapshot holds the configuration a data plane serves: every source
// compiled up front, kept behind an atomic pointer and replaced whole, so a
// request sees one consistent configuration and never waits for an update.
package snapshot

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Source is one source compiled for serving.
type Source struct {
	Config   *plugsv1.SourceConfig
	Verifier *verify.Verifier
	Mapper   *mapping.Mapper
	// MaxBodyBytes is the body limit, the default when the config sets none.
	MaxBodyBytes int64
	// mapperKey identifies what Mapper was compiled from, so later
	// configurations share it (shared); empty when it is not shared.
	mapperKey string
}

// Config is an immutable configuration at one version.
type Config struct {
	Version string
	Sources map[string]*Source
	// Destinations by id, and by tenant for routing.
	Destinations map[string]*plugsv1.DestinationConfig
	byTenant     map[string][]*plugsv1.DestinationConfig
	// WithheldSources and WithheldDestinations are the entries the control
	// plane could not build: each is served as held before it was withheld
	// (or as its fallback, or not at all), and reported back on the stream
	// so the control plane sends it once it can build it.
	WithheldSources      map[string]bool
	WithheldDestinations map[string]bool
	// DeletedDestinations are the destinations the control plane says
	// were deleted. Only these have their queued deliveries dropped; a
	// destination merely absent stops being delivered to.
	DeletedDestinations map[string]bool
}

// Source returns the source with id, or nil.
func (c *Config) Source(id string) *Source {
	if c == nil {
		return nil
	}
	return c.Sources[id]
}

// DefaultMaxBodyBytes is the body limit of a source that sets none.
const DefaultMaxBodyBytes = 1 << 20

// Compile checks and compiles one source: its signature scheme and secrets,
// its JSONPaths and filter. Everything a request needs is compiled here,
// once per configuration version, never per request.
func Compile(sc *plugsv1.SourceConfig) (*Source, error) { return compile(sc, nil) }

// compile is Compile with the mapper already compiled, or nil to compile
// it.
func compile(sc *plugsv1.SourceConfig, m *mapping.Mapper) (*Source, error) {
	if sc.GetId() == "" {
		return nil, fmt.Errorf("%w: source without id", ErrInvalidSource)
	}
	v, err := verify.Compile(sc.GetSignatureScheme(), sc.GetSecrets())
	if err != nil {
		return nil, fmt.Errorf("%w: signature_scheme: %w", ErrInvalidSource, err)
	}
	if m == nil {
		if m, err = mapping.Compile(sc.GetFieldMappings(), sc.GetEventFilter()); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSource, err)
		}
	}
	limit := sc.GetMaxBodyBytes()
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	return &Source{Config: sc, Verifier: v, Mapper: m, MaxBodyBytes: limit}, nil
}

// Build compiles a full configuration of sources, or a delta of sources on
// top of base (which is not modified).
func Build(base *Config, version string, full bool, upserts []*plugsv1.SourceConfig, removed []string) (*Config, error) {
	return Apply(base, &plugsv1.StreamConfigResponse{VersionInfo: version, Full: full, Sources: upserts, RemovedSourceIds: removed})
}

// Apply compiles a configuration response: the whole configuration when it
// is full, otherwise a delta on top of base (which is not modified). Any
// source or destination that fails to compile fails the whole response.
//
// An entry the response withholds keeps the version base holds of it,
// in a full response as in a delta (fail-static); when base holds none,
// the response's fallback is served if it compiles, and otherwise nothing.
func Apply(base *Config, r *plugsv1.StreamConfigResponse) (*Config, error) {
	next := &Config{
		Version:              r.GetVersionInfo(),
		Sources:              make(map[string]*Source, len(r.GetSources())),
		Destinations:         make(map[string]*plugsv1.DestinationConfig, len(r.GetDestinations())),
		WithheldSources:      map[string]bool{},
		WithheldDestinations: map[string]bool{},
		DeletedDestinations:  map[string]bool{},
	}
	if !r.GetFull() && base != nil {
		next.Sources = cloneOr(base.Sources)
		next.Destinations = cloneOr(base.Destinations)
		next.WithheldSources = cloneOr(base.WithheldSources)
		next.WithheldDestinations = cloneOr(base.WithheldDestinations)
		next.DeletedDestinations = cloneOr(base.DeletedDestinations)
	}
	for _, id := range r.GetRemovedSourceIds() {
		delete(next.Sources, id)
		delete(next.WithheldSources, id)
	}
	sh := newShared(base)
	for _, sc := range r.GetSources() {
		s, err := sh.compile(sc)
		if err != nil {
			return nil, &SourceError{ID: sc.GetId(), Err: err}
		}
		next.Sources[sc.GetId()] = s
		delete(next.WithheldSources, sc.GetId())
	}
	for _, w := range r.GetWithheldSources() {
		next.WithheldSources[w.GetId()] = true
		if held := base.Source(w.GetId()); held != nil {
			next.Sources[w.GetId()] = held
			continue
		}
		delete(next.Sources, w.GetId())
		if fb := w.GetFallback(); fb != nil && fb.GetId() == w.GetId() {
			// A fallback that does not compile is no worse than none: the
			// source stays unknown here until the control plane can build
			// it.
			if s, err := sh.compile(fb); err == nil {
				next.Sources[w.GetId()] = s
			}
		}
	}
	for _, id := range r.GetRemovedDestinationIds() {
		delete(next.Destinations, id)
		delete(next.WithheldDestinations, id)
		next.DeletedDestinations[id] = true
	}
	for _, d := range r.GetDestinations() {
		if err := checkDestination(d, true); err != nil {
			return nil, &SourceError{ID: d.GetId(), Err: err}
		}
		next.Destinations[d.GetId()] = d
		delete(next.WithheldDestinations, d.GetId())
		delete(next.DeletedDestinations, d.GetId())
	}
	for _, w := range r.GetWithheldDestinations() {
		next.WithheldDestinations[w.GetId()] = true
		if held := base.Destination(w.GetId()); held != nil {
			next.Destinations[w.GetId()] = held
			continue
		}
		delete(next.Destinations, w.GetId())
		// Without a key, the fallback is routed to and its deliveries wait
		// in its queue until a configuration with a key arrives.
		if fb := w.GetFallback(); fb != nil && fb.GetId() == w.GetId() && checkDestination(fb, false) == nil {
			next.Destinations[w.GetId()] = fb
		}
	}
	next.byTenant = make(map[string][]*plugsv1.DestinationConfig)
	for _, d := range next.Destinations {
		next.byTenant[d.GetTenantId()] = append(next.byTenant[d.GetTenantId()], d)
	}
	return next, nil
}

// Full renders the configuration as a full response, entries sorted by
// id, that Apply(nil, …) turns back into the same configuration: withheld
// entries travel as withheld, with what is served of each as the fallback,
// so a data plane restarted from it still reports them to the control
// plane.
func (c *Config) Full() *plugsv1.StreamConfigResponse {
	resp := &plugsv1.StreamConfigResponse{VersionInfo: c.Version, Full: true}
	for _, id := range slices.Sorted(maps.Keys(c.Destinations)) {
		if !c.WithheldDestinations[id] {
			resp.Destinations = append(resp.Destinations, c.Destinations[id])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.WithheldDestinations)) {
		resp.WithheldDestinations = append(resp.WithheldDestinations,
			&plugsv1.WithheldDestination{Id: id, Reason: "withheld before the restart", Fallback: c.Destinations[id]})
	}
	resp.RemovedDestinationIds = slices.Sorted(maps.Keys(c.DeletedDestinations))
	for _, id := range slices.Sorted(maps.Keys(c.Sources)) {
		if !c.WithheldSources[id] {
			resp.Sources = append(resp.Sources, c.Sources[id].Config)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.WithheldSources)) {
		w := &plugsv1.WithheldSource{Id: id, Reason: "withheld before the restart"}
		if s := c.Sources[id]; s != nil {
			w.Fallback = s.Config
		}
		resp.WithheldSources = append(resp.WithheldSources, w)
	}
	return resp
}

// cloneOr clones m, or makes an empty map when m is nil.
func cloneOr[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return maps.Clone(m)
}

// Store holds the configuration being served.
type Store struct {
	p atomic.Pointer[Config]
}

// Load returns the current configuration, nil before the first one.
func (s *Store) Load() *Config { return s.p.Load() }

// Swap replaces the configuration.
func (s *Store) Swap(c *Config) { s.p.Store(c) }

// Ready reports whether a configuration has been loaded.
func (s *Store) Ready() bool { return s.p.Load() != nil }

// DedupWindow is how long the event ids of a source are remembered: its
// configured window, but never less than the time its signed requests stay
// fresh (verify.Verifier.ReplayWindow), so a captured request cannot be
// accepted again after its id is forgotten, whatever a source saved before
// the control plane refused such windows says. Zero for an unknown source.
// It is a backbone.EventStore's Window.
func (s *Store) DedupWindow(sourceID string) time.Duration {
	src := s.Load().Source(sourceID)
	if src == nil {
		return 0
	}
	return max(src.Config.GetDedupWindow().AsDuration(), src.Verifier.ReplayWindow())
}
