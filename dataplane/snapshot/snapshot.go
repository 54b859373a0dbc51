// Package snapshot holds the configuration a data plane serves: every source
// compiled up front, kept behind an atomic pointer and replaced whole, so a
// request sees one consistent configuration and never waits for an update.
package snapshot

import (
	"fmt"
	"maps"
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
func Apply(base *Config, r *plugsv1.StreamConfigResponse) (*Config, error) {
	next := &Config{
		Version:      r.GetVersionInfo(),
		Sources:      make(map[string]*Source, len(r.GetSources())),
		Destinations: make(map[string]*plugsv1.DestinationConfig, len(r.GetDestinations())),
	}
	if !r.GetFull() && base != nil {
		next.Sources = maps.Clone(base.Sources)
		next.Destinations = maps.Clone(base.Destinations)
		if next.Destinations == nil {
			next.Destinations = map[string]*plugsv1.DestinationConfig{}
		}
	}
	for _, id := range r.GetRemovedSourceIds() {
		delete(next.Sources, id)
	}
	sh := newShared(base)
	for _, sc := range r.GetSources() {
		s, err := sh.compile(sc)
		if err != nil {
			return nil, &SourceError{ID: sc.GetId(), Err: err}
		}
		next.Sources[sc.GetId()] = s
	}
	for _, id := range r.GetRemovedDestinationIds() {
		delete(next.Destinations, id)
	}
	for _, d := range r.GetDestinations() {
		if err := checkDestination(d); err != nil {
			return nil, &SourceError{ID: d.GetId(), Err: err}
		}
		next.Destinations[d.GetId()] = d
	}
	next.byTenant = make(map[string][]*plugsv1.DestinationConfig)
	for _, d := range next.Destinations {
		next.byTenant[d.GetTenantId()] = append(next.byTenant[d.GetTenantId()], d)
	}
	return next, nil
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
