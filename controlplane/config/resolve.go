// Package config turns stored sources into the configuration data planes
// run: resolution against templates, snapshots with decrypted secrets, and
// the stream that feeds them.
package config

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/ent"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MarshalOverride encodes a structured setting for storage: deterministic
// protobuf bytes, or nil for an empty message, which means "the template's
// default".
func MarshalOverride(m proto.Message) ([]byte, error) {
	if m == nil || !m.ProtoReflect().IsValid() || proto.Size(m) == 0 {
		return nil, nil
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func unmarshalInto[T proto.Message](b []byte, m T) (T, error) {
	if len(b) == 0 {
		var zero T
		return zero, nil
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return m, fmt.Errorf("stored %T: %w", m, err)
	}
	return m, nil
}

// Effective is a stored source resolved against its template.
type Effective struct {
	Scheme   *plugsv1.SignatureScheme
	Filter   *plugsv1.EventFilter
	Mappings *plugsv1.FieldMappings
}

// Resolve applies a source's overrides on top of its template's defaults.
// The API and the data-plane snapshots use it alike.
func Resolve(s *ent.Source, tpl *plugsv1.Template) (Effective, error) {
	var e Effective
	var err error
	if e.Scheme, err = unmarshalInto(s.SignatureScheme, &plugsv1.SignatureScheme{}); err != nil {
		return e, err
	}
	if e.Filter, err = unmarshalInto(s.EventFilter, &plugsv1.EventFilter{}); err != nil {
		return e, err
	}
	if e.Mappings, err = unmarshalInto(s.FieldMappings, &plugsv1.FieldMappings{}); err != nil {
		return e, err
	}
	if e.Scheme == nil {
		e.Scheme = proto.Clone(tpl.GetSignatureScheme()).(*plugsv1.SignatureScheme)
	}
	if e.Mappings == nil {
		e.Mappings = proto.Clone(tpl.GetFieldMappings()).(*plugsv1.FieldMappings)
	}
	if e.Filter == nil {
		e.Filter = &plugsv1.EventFilter{}
	}
	return e, nil
}
