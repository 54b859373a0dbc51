// Package snapshot holds the configuration a data plane serves: every source
// compiled up front, kept behind an atomic pointer and replaced whole, so a
// request sees one consistent configuration and never waits for an update.
package snapshot

import (
	"fmt"
	"maps"
	"sync/atomic"

	"github.com/ohler55/ojg/jp"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Source is one source compiled for serving.
type Source struct {
	Config *plugsv1.SourceConfig
	// Paths are the compiled JSONPaths of the source's mappings and filter,
	// keyed by their text.
	Paths map[string]jp.Expr
}

// Config is an immutable configuration at one version.
type Config struct {
	Version string
	Sources map[string]*Source
}

// Source returns the source with id, or nil.
func (c *Config) Source(id string) *Source {
	if c == nil {
		return nil
	}
	return c.Sources[id]
}

// Compile checks and compiles one source. Everything a request needs is
// compiled here, once per configuration version, never per request.
func Compile(sc *plugsv1.SourceConfig) (*Source, error) {
	if sc.GetId() == "" {
		return nil, fmt.Errorf("%w: source without id", ErrInvalidSource)
	}
	if sc.GetSignatureScheme().GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_UNSPECIFIED {
		return nil, fmt.Errorf("%w: %s: no signature algorithm", ErrInvalidSource, sc.GetId())
	}
	s := &Source{Config: sc, Paths: map[string]jp.Expr{}}
	add := func(field, path string) error {
		if path == "" {
			return nil
		}
		x, err := jp.ParseString(path)
		if err != nil {
			return fmt.Errorf("%w: %s: %s: %w", ErrInvalidSource, sc.GetId(), field, err)
		}
		s.Paths[path] = x
		return nil
	}
	m := sc.GetFieldMappings()
	refs := map[string]*plugsv1.ValueRef{
		"event_id": m.GetEventId(), "event_type": m.GetEventType(), "customer_id": m.GetCustomerId(),
		"quantity": m.GetQuantity(), "timestamp": m.GetTimestamp(),
	}
	for name, r := range m.GetProperties() {
		refs["properties."+name] = r
	}
	for field, r := range refs {
		if err := add(field, r.GetJsonPath()); err != nil {
			return nil, err
		}
	}
	if err := add("event_filter.expression", sc.GetEventFilter().GetExpression()); err != nil {
		return nil, err
	}
	scheme := sc.GetSignatureScheme()
	if err := add("signature_scheme.signature_json_path", scheme.GetSignatureJsonPath()); err != nil {
		return nil, err
	}
	if err := add("signature_scheme.timestamp.json_path", scheme.GetTimestamp().GetJsonPath()); err != nil {
		return nil, err
	}
	for i, p := range scheme.GetSignedParts() {
		if p.GetKind() == plugsv1.SignedPart_KIND_BODY_FIELD {
			if err := add(fmt.Sprintf("signature_scheme.signed_parts[%d]", i), p.GetValue()); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Build compiles a full configuration, or a delta on top of base (which is
// not modified). Any source that fails to compile fails the whole build.
func Build(base *Config, version string, full bool, upserts []*plugsv1.SourceConfig, removed []string) (*Config, error) {
	next := &Config{Version: version, Sources: make(map[string]*Source, len(upserts))}
	if !full && base != nil {
		next.Sources = maps.Clone(base.Sources)
	}
	for _, id := range removed {
		delete(next.Sources, id)
	}
	for _, sc := range upserts {
		s, err := Compile(sc)
		if err != nil {
			return nil, &SourceError{ID: sc.GetId(), Err: err}
		}
		next.Sources[sc.GetId()] = s
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
