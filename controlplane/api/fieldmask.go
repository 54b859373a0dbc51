package api

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// updatePaths returns the paths an update changes: the mask's, or when the
// mask is empty the populated fields of in that may be updated. A path is
// allowed when its top-level field is in updatable and, if it goes deeper,
// nested(top) holds. Refused paths and an empty result are violations of
// update_mask.
func updatePaths(v *violations, mask []string, in protoreflect.Message, updatable map[string]bool, nested func(top string) bool) []string {
	paths := mask
	if len(paths) == 0 {
		for _, p := range populatedPaths(in) {
			if updatable[p] {
				paths = append(paths, p)
			}
		}
	}
	for _, p := range paths {
		top, _, deeper := strings.Cut(p, ".")
		if !updatable[top] || (deeper && !nested(top)) {
			v.add("update_mask", fmt.Sprintf("field %q cannot be updated", p))
		}
	}
	if len(paths) == 0 {
		v.add("update_mask", "names no field to update")
	}
	return paths
}

// applyMask copies the fields named by paths from src into dst. A path may
// go into nested messages ("signature_scheme.header") and end at a map key
// ("field_mappings.properties.plan"); the last named field is replaced
// whole. Unknown paths are reported as violations of update_mask.
func applyMask(v *violations, dst, src protoreflect.Message, paths []string) {
	for _, path := range paths {
		if !applyPath(dst, src, strings.Split(path, ".")) {
			v.add("update_mask", "unknown or unsupported field path "+quote(path))
		}
	}
}

func applyPath(dst, src protoreflect.Message, segs []string) bool {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(segs[0]))
	if fd == nil {
		return false
	}
	rest := segs[1:]
	if len(rest) == 0 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return true
	}
	switch {
	case fd.IsMap():
		if len(rest) != 1 || fd.MapKey().Kind() != protoreflect.StringKind {
			return false
		}
		key := protoreflect.ValueOfString(rest[0]).MapKey()
		sm := src.Get(fd).Map()
		if sv := sm.Get(key); sv.IsValid() {
			dst.Mutable(fd).Map().Set(key, sv)
		} else if dst.Has(fd) {
			dst.Mutable(fd).Map().Clear(key)
		}
		return true
	case fd.Message() != nil && !fd.IsList():
		return applyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), rest)
	}
	return false
}

// populatedPaths lists the top-level fields set in m, the AIP default when
// an update carries no mask.
func populatedPaths(m protoreflect.Message) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		out = append(out, string(fd.Name()))
		return true
	})
	return out
}

func quote(s string) string { return `"` + s + `"` }
