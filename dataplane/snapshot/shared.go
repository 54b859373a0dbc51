package snapshot

import (
	"encoding/binary"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/mapping"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// shared compiles sources so that what many of them have in common exists
// once. Sources on a template's defaults have identical mappings, filter
// and signature scheme; with one compiled mapper and one copy of those
// messages among them, 10,000 such sources take a fraction of the memory
// they take compiled one by one. Secrets differ per source, so verifiers
// are not shared.
type shared struct {
	base    *Config
	seeded  bool
	mappers map[string]*sharedMapper
	schemes map[string]*plugsv1.SignatureScheme
}

// sharedMapper is a compiled mapper with the messages it was compiled from.
type sharedMapper struct {
	mapper   *mapping.Mapper
	mappings *plugsv1.FieldMappings
	filter   *plugsv1.EventFilter
}

func newShared(base *Config) *shared {
	return &shared{base: base, mappers: map[string]*sharedMapper{}, schemes: map[string]*plugsv1.SignatureScheme{}}
}

// compile is Compile, sharing the mapper and messages of an equal source
// compiled before, in this configuration or the one it is applied on. The
// source's messages are replaced by the shared ones, which are equal.
func (sh *shared) compile(sc *plugsv1.SourceConfig) (*Source, error) {
	sh.seed()
	if key, ok := schemeKey(sc.GetSignatureScheme()); ok {
		if s, found := sh.schemes[key]; found {
			sc.SignatureScheme = s
		} else {
			sh.schemes[key] = sc.GetSignatureScheme()
		}
	}
	key, keyed := mapperKey(sc)
	if keyed {
		if m, found := sh.mappers[key]; found {
			sc.FieldMappings, sc.EventFilter = m.mappings, m.filter
			return compile(sc, m.mapper)
		}
	}
	src, err := compile(sc, nil)
	if err != nil {
		return nil, err
	}
	if keyed {
		src.mapperKey = key
		sh.mappers[key] = &sharedMapper{mapper: src.Mapper, mappings: sc.GetFieldMappings(), filter: sc.GetEventFilter()}
	}
	return src, nil
}

// seed makes the sources of the base configuration's mappers and schemes
// available for sharing, once and only when something is compiled.
func (sh *shared) seed() {
	if sh.seeded || sh.base == nil {
		sh.seeded = true
		return
	}
	sh.seeded = true
	for _, s := range sh.base.Sources {
		if s.mapperKey != "" {
			sh.mappers[s.mapperKey] = &sharedMapper{mapper: s.Mapper, mappings: s.Config.GetFieldMappings(), filter: s.Config.GetEventFilter()}
		}
		if key, ok := schemeKey(s.Config.GetSignatureScheme()); ok {
			sh.schemes[key] = s.Config.GetSignatureScheme()
		}
	}
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// mapperKey identifies what a mapper is compiled from.
func mapperKey(sc *plugsv1.SourceConfig) (string, bool) {
	m, err := deterministic.Marshal(sc.GetFieldMappings())
	if err != nil {
		return "", false
	}
	f, err := deterministic.Marshal(sc.GetEventFilter())
	if err != nil {
		return "", false
	}
	// The first encoding's length first, so no two pairs of encodings
	// make one key.
	key := binary.AppendUvarint(make([]byte, 0, 10+len(m)+len(f)), uint64(len(m)))
	return string(append(append(key, m...), f...)), true
}

func schemeKey(s *plugsv1.SignatureScheme) (string, bool) {
	if s == nil {
		return "", false
	}
	b, err := deterministic.Marshal(s)
	return string(b), err == nil
}
