package mapping

import (
	"errors"
	"strings"
)

var (
	// ErrFiltered means the event filter drops the event: the webhook is
	// answered 200 and nothing is kept.
	ErrFiltered = errors.New("mapping: event filtered out")
	// ErrMappingFailed means a required field is missing or its value is
	// invalid (an optional field never fails a mapping). The error is a
	// *Error naming the fields.
	ErrMappingFailed = errors.New("mapping: field mapping failed")
	// ErrInvalidMapping means mappings or a filter do not compile.
	ErrInvalidMapping = errors.New("mapping: invalid mapping")
)

// FieldError says why one field has no value.
type FieldError struct {
	// Field is the mapping field, for example "customer_id" or
	// "properties.plan".
	Field       string
	Description string
	Required    bool
}

// Error lists the fields that failed; it wraps ErrMappingFailed.
type Error struct {
	Fields []FieldError
}

func (e *Error) Error() string { return describe("mapping failed: ", e.Fields) }

// Warning describes the optional fields Map left empty, for a receipt's
// detail: "optional fields left empty: quantity: ...; timestamp: ...".
func Warning(fields []FieldError) string {
	return describe("optional fields left empty: ", fields)
}

func describe(prefix string, fields []FieldError) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i, f := range fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Description)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrMappingFailed) hold.
func (e *Error) Unwrap() error { return ErrMappingFailed }

// Field returns the first failed field's name.
func (e *Error) Field() string {
	if len(e.Fields) == 0 {
		return ""
	}
	return e.Fields[0].Field
}

// ErrTooManyItems means a batch body holds more items than the mappings
// allow (Batch.max_items): the request is refused whole and nothing is
// stored. The error says how many it holds.
var ErrTooManyItems = errors.New("mapping: more items than the batch allows")
