package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// restJSON is the REST gateway's JSON: protojson leaving unset fields out,
// so input-only fields such as a source's secret never appear, not even
// empty, and nested settings nobody set are not a wall of nulls and empty
// strings. Two kinds of field are written out even when empty, because an
// answer without them reads as no answer: the lists of a response message
// ({"deliveries":[]}, {"fieldErrors":[]}) and counts, fields named
// *_count ({"redrivenCount":0}). protojson has no per-field switch
// (EmitUnpopulated writes every unset field, secret and nulls included),
// so Marshal adds those fields to protojson's output. Request bodies are
// decoded by bodyDecoder.
type restJSON struct {
	runtime.JSONPb
}

func newRESTJSON() *restJSON {
	return &restJSON{JSONPb: runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

// completeJSON is the webhook registration form's JSON: its list answers
// with every field, zeros and an empty content included, since its clients
// read "number": 0 and "content": [] and would break on a missing key. Its
// messages have no input-only fields to hide.
var completeJSON = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}

// Marshal implements runtime.Marshaler.
func (m *restJSON) Marshal(v any) ([]byte, error) {
	if _, ok := v.(*plugsv1.ListWebhooksResponse); ok {
		return completeJSON.Marshal(v)
	}
	b, err := m.JSONPb.Marshal(v)
	if err != nil {
		return nil, err
	}
	msg, ok := v.(proto.Message)
	if !ok || !needsEmpties(msg.ProtoReflect()) {
		return b, nil
	}
	return writeEmpties(msg.ProtoReflect(), b)
}

// NewDecoder implements runtime.Marshaler: see bodyDecoder.
func (m *restJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return &bodyDecoder{r: r, json: &m.JSONPb}
}

// alwaysWritten says whether fd, a field of md, is written out when empty:
// a response's list, or a count.
func alwaysWritten(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) bool {
	if fd.HasPresence() || fd.IsMap() {
		return false
	}
	if fd.IsList() {
		return strings.HasSuffix(string(md.Name()), "Response")
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return strings.HasSuffix(string(fd.Name()), "_count")
	}
	return false
}

// empty is the JSON of an empty fd: an empty list or a zero, 64-bit
// integers being strings in protojson.
func empty(fd protoreflect.FieldDescriptor) json.RawMessage {
	switch {
	case fd.IsList():
		return json.RawMessage(`[]`)
	case fd.Kind() == protoreflect.Int64Kind || fd.Kind() == protoreflect.Uint64Kind || fd.Kind() == protoreflect.Sint64Kind:
		return json.RawMessage(`"0"`)
	}
	return json.RawMessage(`0`)
}

// mayNeed caches, per message type, whether the type or a message below it
// has fields alwaysWritten: most answers (sources, templates) have none
// and are returned as protojson wrote them.
var mayNeed sync.Map // protoreflect.FullName -> bool

func typeMayNeed(md protoreflect.MessageDescriptor) bool {
	if v, ok := mayNeed.Load(md.FullName()); ok {
		return v.(bool)
	}
	// Well-known types have JSON forms of their own; a recursive type is
	// assumed not to need anything while its answer is worked out.
	mayNeed.Store(md.FullName(), false)
	need := false
	if !strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		fields := md.Fields()
		for i := 0; i < fields.Len() && !need; i++ {
			fd := fields.Get(i)
			need = alwaysWritten(md, fd) || (fd.Message() != nil && !fd.IsMap() && typeMayNeed(fd.Message()))
		}
	}
	mayNeed.Store(md.FullName(), need)
	return need
}

// needsEmpties says whether m leaves empty a field alwaysWritten, itself or
// in a message it holds.
func needsEmpties(m protoreflect.Message) bool {
	md := m.Descriptor()
	if !typeMayNeed(md) {
		return false
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			if alwaysWritten(md, fd) {
				return true
			}
			continue
		}
		if fd.Message() == nil || fd.IsMap() {
			continue
		}
		v := m.Get(fd)
		if !fd.IsList() {
			if needsEmpties(v.Message()) {
				return true
			}
			continue
		}
		for j := 0; j < v.List().Len(); j++ {
			if needsEmpties(v.List().Get(j).Message()) {
				return true
			}
		}
	}
	return false
}

// member is one key of a JSON object and its value as written.
type member struct {
	key string
	val json.RawMessage
}

// objectMembers splits a JSON object into its members, in order.
func objectMembers(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("server: answer is not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		out = append(out, member{key, val})
	}
	return out, nil
}

// writeEmpties rewrites obj, protojson's JSON of m, with each empty field
// alwaysWritten added where protojson would have put it (in declaration
// order), in m and in the messages it holds. An object with a key that is
// no field's (which protojson does not write) is returned unchanged.
func writeEmpties(m protoreflect.Message, obj []byte) ([]byte, error) {
	md := m.Descriptor()
	if !typeMayNeed(md) {
		return obj, nil
	}
	members, err := objectMembers(obj)
	if err != nil {
		return nil, err
	}
	fields := md.Fields()
	written := make(map[string]json.RawMessage, len(members))
	for _, mem := range members {
		if fields.ByJSONName(mem.key) == nil {
			return obj, nil
		}
		written[mem.key] = mem.val
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		val, ok := written[fd.JSONName()]
		switch {
		case ok && fd.Message() != nil && !fd.IsMap():
			if val, err = writeEmptiesIn(fd, m.Get(fd), val); err != nil {
				return nil, err
			}
		case !ok && alwaysWritten(md, fd):
			val = empty(fd)
		case !ok:
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		key, _ := json.Marshal(fd.JSONName())
		out.Write(key)
		out.WriteByte(':')
		out.Write(val)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// writeEmptiesIn is writeEmpties for the value of a message field: one
// message or a list of them. Maps are left as written: no map of the API
// holds messages with lists or counts.
func writeEmptiesIn(fd protoreflect.FieldDescriptor, v protoreflect.Value, val json.RawMessage) (json.RawMessage, error) {
	switch {
	case fd.IsList():
		var elems []json.RawMessage
		if err := json.Unmarshal(val, &elems); err != nil || len(elems) != v.List().Len() {
			return val, err
		}
		changed := false
		for i, e := range elems {
			msg := v.List().Get(i).Message()
			if !needsEmpties(msg) {
				continue
			}
			b, err := writeEmpties(msg, e)
			if err != nil {
				return nil, err
			}
			elems[i], changed = b, true
		}
		if !changed {
			return val, nil
		}
		return json.Marshal(elems)
	}
	if !needsEmpties(v.Message()) {
		return val, nil
	}
	return writeEmpties(v.Message(), val)
}
