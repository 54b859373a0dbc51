// Package mapping turns a verified webhook body into a plugs.v1.UsageEvent.
// A source's field mappings and event filter are compiled once per
// configuration into a Mapper; Map then reads every field in one pass over
// the body (see package payload), applies the filter and normalizes the
// values: quantities as decimal strings, timestamps in UTC.
package mapping

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MaxEventIDLen bounds provider event ids; a longer one fails the mapping
// rather than bloating the dedup store.
const MaxEventIDLen = 512

// Mapper maps bodies for one source. It is immutable and safe for
// concurrent use.
type Mapper struct {
	paths  payload.Paths
	fields [nFields]field
	props  []field // sorted by name
	filter filter
	values sync.Pool // *[]payload.Value of paths.Len()
	// batch is set when one body carries several events (batch.go);
	// envelope then holds the "$$" paths, read once from the whole body.
	batch    *batch
	envelope payload.Paths
}

// Indexes of the fixed fields.
const (
	fEventID = iota
	fEventType
	fCustomerID
	fQuantity
	fTimestamp
	nFields
)

var fieldNames = [nFields]string{"event_id", "event_type", "customer_id", "quantity", "timestamp"}

type source uint8

const (
	fromNone source = iota
	fromPath
	fromHeader
	fromConstant
	// fromEnvelope is a "$$" path of a batch, read from the whole body
	// rather than from the item.
	fromEnvelope
)

type field struct {
	name     string
	from     source
	slot     int
	text     string // header name (canonical) or constant
	required bool
}

// Compile checks and compiles mappings and a filter.
func Compile(m *plugsv1.FieldMappings, f *plugsv1.EventFilter) (*Mapper, error) {
	mp := &Mapper{}
	if m.GetBatch() != nil {
		b, err := compileBatch(m.GetBatch())
		if err != nil {
			return nil, err
		}
		mp.batch = b
	}
	refs := [nFields]*plugsv1.ValueRef{m.GetEventId(), m.GetEventType(), m.GetCustomerId(), m.GetQuantity(), m.GetTimestamp()}
	for i, r := range refs {
		fd, err := mp.compileRef(fieldNames[i], r)
		if err != nil {
			return nil, err
		}
		mp.fields[i] = fd
	}
	names := make([]string, 0, len(m.GetProperties()))
	for name := range m.GetProperties() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fd, err := mp.compileRef("properties."+name, m.GetProperties()[name])
		if err != nil {
			return nil, err
		}
		if fd.from == fromNone {
			return nil, fmt.Errorf("%w: properties.%s: no json_path, header or constant", ErrInvalidMapping, name)
		}
		fd.name = name
		mp.props = append(mp.props, fd)
	}
	if mp.batch != nil {
		if id := mp.fields[fEventID]; id.from != fromNone && id.from != fromPath {
			return nil, fmt.Errorf("%w: event_id: in a batch it must be read from each item (a JSONPath from $), or every item would have the same id", ErrInvalidMapping)
		}
	}
	flt, err := compileFilter(f)
	if err != nil {
		return nil, err
	}
	mp.filter = flt
	n := mp.paths.Len()
	mp.values.New = func() any { v := make([]payload.Value, n); return &v }
	return mp, nil
}

func (mp *Mapper) compileRef(name string, r *plugsv1.ValueRef) (field, error) {
	fd := field{name: name, required: r.GetRequired()}
	switch x := r.GetFrom().(type) {
	case *plugsv1.ValueRef_JsonPath:
		if envelope, ok := strings.CutPrefix(x.JsonPath, "$$"); ok {
			if mp.batch == nil || mp.batch.ndjson {
				return fd, fmt.Errorf("%w: %s: %q: a path from $$ reads the envelope of a JSON batch, and these mappings read none", ErrInvalidMapping, name, x.JsonPath)
			}
			slot, err := mp.envelope.Add("$" + envelope)
			if err != nil {
				return fd, fmt.Errorf("%w: %s: %w", ErrInvalidMapping, name, err)
			}
			fd.from, fd.slot = fromEnvelope, slot
			return fd, nil
		}
		slot, err := mp.paths.Add(x.JsonPath)
		if err != nil {
			return fd, fmt.Errorf("%w: %s: %w", ErrInvalidMapping, name, err)
		}
		fd.from, fd.slot = fromPath, slot
	case *plugsv1.ValueRef_Header:
		if x.Header == "" {
			return fd, fmt.Errorf("%w: %s: empty header name", ErrInvalidMapping, name)
		}
		fd.from, fd.text = fromHeader, textproto.CanonicalMIMEHeaderKey(x.Header)
	case *plugsv1.ValueRef_Constant:
		fd.from, fd.text = fromConstant, x.Constant
	default:
		if fd.required {
			return fd, fmt.Errorf("%w: %s: required but says nowhere where to find it", ErrInvalidMapping, name)
		}
	}
	return fd, nil
}

// Input is a verified request as mapping sees it.
type Input struct {
	Body   *payload.Doc
	Header http.Header
	// ReceiveTime stands in for an event time the payload lacks.
	ReceiveTime time.Time
	// envelope holds the values of the "$$" paths when Body is an item of
	// a batch.
	envelope []payload.Value
}

// Map fills ev's mapped fields (event id and type, customer, quantity, event
// time, properties) from in. It returns an error wrapping
// payload.ErrUnparsable when the body does not parse, ErrFiltered when the
// filter drops the event, errBatch for a batch source (see Items), and a
// *Error when a required field fails.
//
// An optional field whose value is invalid (a quantity that is not a
// number, a time that does not parse, an object where an id belongs) does
// not fail the event: the field is left empty, no default stands in for
// it, and it is returned among the warnings, so the provider's webhook is
// taken and the problem shows on its receipt.
func (mp *Mapper) Map(in Input, ev *plugsv1.UsageEvent) (warnings []FieldError, err error) {
	if mp.batch != nil {
		return nil, errBatch
	}
	return mp.run(in, ev, nil)
}

// Preview is Map for people correcting a mapping: it also reports optional
// fields that found no value, and fills ev with every field that did map
// even when others failed.
func (mp *Mapper) Preview(in Input, ev *plugsv1.UsageEvent) (filtered bool, fields []FieldError, err error) {
	if mp.batch != nil {
		return false, nil, errBatch
	}
	var report []FieldError
	_, err = mp.run(in, ev, &report)
	return err == ErrFiltered, report, err
}

func (mp *Mapper) run(in Input, ev *plugsv1.UsageEvent, report *[]FieldError) (warnings []FieldError, err error) {
	buf := mp.values.Get().(*[]payload.Value)
	defer mp.values.Put(buf)
	vals := *buf
	if err := mp.paths.Lookup(in.Body, vals); err != nil {
		return nil, err
	}
	var failed []FieldError
	// fail records a field without a usable value: a required one fails
	// the event, an optional one is left empty and reported.
	fail := func(fd *field, desc string) {
		if fd.required {
			failed = append(failed, FieldError{Field: fd.name, Description: desc, Required: true})
		} else {
			warnings = append(warnings, FieldError{Field: fd.name, Description: desc})
		}
	}

	eventType, ok := mp.text(&mp.fields[fEventType], in, vals)
	switch {
	case !ok && mp.fields[fEventType].required:
		fail(&mp.fields[fEventType], mp.absent(&mp.fields[fEventType]))
	case !utf8.ValidString(eventType):
		fail(&mp.fields[fEventType], notUTF8)
		eventType = ""
	}
	ev.EventType = eventType
	if len(failed) == 0 {
		keep, err := mp.filter.keep(eventType, in.Body)
		if err != nil {
			return nil, err
		}
		if !keep {
			return nil, ErrFiltered
		}
	}

	id := &mp.fields[fEventID]
	if v, ok := mp.scalar(id, in, vals, fail); ok {
		if len(v) > MaxEventIDLen {
			fail(id, fmt.Sprintf("longer than %d bytes", MaxEventIDLen))
		} else {
			ev.EventId = v
		}
	}
	if v, ok := mp.scalar(&mp.fields[fCustomerID], in, vals, fail); ok {
		ev.CustomerId = v
	}

	// An absent quantity means one; an invalid one is no quantity at all,
	// since billing a guess would be worse than billing nothing.
	q := &mp.fields[fQuantity]
	if raw, ok := mp.value(q, in, vals); ok {
		if raw.Kind != payload.Number && raw.Kind != payload.String {
			fail(q, "not a number")
		} else if d, err := Decimal(raw.Text()); err != nil {
			fail(q, err.Error())
		} else {
			ev.Quantity = d
		}
	} else if q.required {
		fail(q, mp.absent(q))
	} else {
		ev.Quantity = "1"
	}

	// An absent time means the receive time; an invalid one is left empty.
	ts := &mp.fields[fTimestamp]
	var eventTime time.Time
	if raw, ok := mp.value(ts, in, vals); ok {
		if t, err := Time(raw); err != nil {
			fail(ts, err.Error())
		} else {
			eventTime = t
		}
	} else if ts.required {
		fail(ts, mp.absent(ts))
	} else {
		eventTime = in.ReceiveTime
	}
	if !eventTime.IsZero() {
		ev.EventTime = timestamppb.New(eventTime.UTC())
	}

	for i := range mp.props {
		p := &mp.props[i]
		if v, ok := mp.text(p, in, vals); ok && !utf8.ValidString(v) {
			if p.required {
				failed = append(failed, FieldError{Field: "properties." + p.name, Description: notUTF8, Required: true})
			} else {
				warnings = append(warnings, FieldError{Field: "properties." + p.name, Description: notUTF8})
			}
		} else if ok {
			if ev.Properties == nil {
				ev.Properties = make(map[string]string, len(mp.props))
			}
			ev.Properties[p.name] = v
		} else if p.required {
			failed = append(failed, FieldError{Field: "properties." + p.name, Description: mp.absent(p), Required: true})
		}
	}

	if report != nil {
		*report = append(*report, failed...)
		*report = append(*report, warnings...)
		for i := range mp.fields {
			fd := &mp.fields[i]
			if fd.from != fromNone && !fd.required && !hasField(warnings, fd.name) {
				if _, ok := mp.value(fd, in, vals); !ok {
					*report = append(*report, FieldError{Field: fd.name, Description: mp.absent(fd)})
				}
			}
		}
	}
	if len(failed) > 0 {
		return warnings, &Error{Fields: failed}
	}
	return warnings, nil
}

func hasField(fs []FieldError, name string) bool {
	for _, f := range fs {
		if f.Field == name {
			return true
		}
	}
	return false
}

// value returns the raw value of fd, ok false when absent or null.
func (mp *Mapper) value(fd *field, in Input, vals []payload.Value) (payload.Value, bool) {
	switch fd.from {
	case fromPath:
		v := vals[fd.slot]
		return v, v.Present()
	case fromHeader:
		if s := in.Header.Get(fd.text); s != "" {
			return payload.StringValue(s), true
		}
	case fromConstant:
		return payload.StringValue(fd.text), true
	case fromEnvelope:
		if fd.slot < len(in.envelope) {
			v := in.envelope[fd.slot]
			return v, v.Present()
		}
	}
	return payload.Value{}, false
}

// text returns fd's value as text; objects and arrays as compact JSON.
func (mp *Mapper) text(fd *field, in Input, vals []payload.Value) (string, bool) {
	v, ok := mp.value(fd, in, vals)
	if !ok {
		return "", false
	}
	s := v.Text()
	return s, s != ""
}

// scalar is text for identifiers, which must be strings or numbers.
func (mp *Mapper) scalar(fd *field, in Input, vals []payload.Value, fail func(*field, string)) (string, bool) {
	v, ok := mp.value(fd, in, vals)
	if !ok {
		if fd.required {
			fail(fd, mp.absent(fd))
		}
		return "", false
	}
	if v.Kind != payload.String && v.Kind != payload.Number {
		fail(fd, "not a string or number")
		return "", false
	}
	s := v.Text()
	if s == "" {
		if fd.required {
			fail(fd, "empty")
		}
		return "", false
	}
	if !utf8.ValidString(s) {
		fail(fd, notUTF8)
		return "", false
	}
	return s, true
}

// notUTF8 describes a value that is not UTF-8 text. It fails a required
// field, and leaves an optional one empty, rather than being repaired: replacing the bad bytes would change an id
// silently, and could make two distinct event ids one, the second then
// dropped as a duplicate. Nor can it be stored as it is: an event's
// strings must be UTF-8.
const notUTF8 = "not valid UTF-8"

func (mp *Mapper) absent(fd *field) string {
	switch fd.from {
	case fromPath:
		return "no value at " + mp.paths.Text(fd.slot)
	case fromEnvelope:
		return "no value at $" + mp.envelope.Text(fd.slot)
	case fromHeader:
		return "no header " + fd.text
	case fromNone:
		return "not mapped"
	}
	return "empty"
}
