package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// outputFormat is -o: an aligned table for people, or the API's own JSON
// (protojson, as the REST API answers) for programs.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
)

func (o *outputFormat) register(fs *flag.FlagSet) {
	*o = outputTable
	fs.Var(o, "o", "output `format`: table or json")
}

func (o *outputFormat) String() string { return string(*o) }

func (o *outputFormat) Set(s string) error {
	switch f := outputFormat(s); f {
	case outputTable, outputJSON:
		*o = f
		return nil
	}
	return errors.New("must be table or json")
}

// field is one line of a single resource's table: a name and its value.
type field struct{ name, value string }

// printOne writes m as one JSON object, or as a table of fields, one per
// line.
func printOne(w io.Writer, format outputFormat, m proto.Message, fields []field) error {
	if format == outputJSON {
		b, err := marshalJSON(m)
		if err != nil {
			return err
		}
		return writeJSON(w, b)
	}
	rows := make([][]string, len(fields))
	for i, f := range fields {
		rows[i] = []string{f.name, f.value}
	}
	return writeTable(w, nil, rows)
}

// printList writes items as a JSON array, or as a table with a header and
// one row per item.
func printList[T proto.Message](w io.Writer, format outputFormat, items []T, header []string, row func(T) []string) error {
	if format == outputJSON {
		parts := make([][]byte, len(items))
		for i, it := range items {
			b, err := marshalJSON(it)
			if err != nil {
				return err
			}
			parts[i] = b
		}
		return writeJSON(w, append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']'))
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	return writeTable(w, header, rows)
}

func marshalJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return b, nil
}

// writeJSON writes JSON indented: protojson's own spacing varies on
// purpose, so it is normalised here.
func writeJSON(w io.Writer, raw []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("indent JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// writeTable aligns rows in columns two spaces apart, under header when
// there is one. An empty cell shows as "-", so columns stay readable by
// awk.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cell keeps a value on one line of one column.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	return orDash(s)
}

// enumWord is an enum value as people say it: STATUS_ACTIVE of Status is
// "active"; the unspecified value is "".
func enumWord(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return fmt.Sprint(e.Number())
	}
	word := strings.TrimPrefix(string(v.Name()), upperSnake(string(e.Descriptor().Name()))+"_")
	if word == "UNSPECIFIED" {
		return ""
	}
	return strings.ToLower(word)
}

// upperSnake writes a Go or proto CamelCase name as UPPER_SNAKE:
// InvalidArgument is INVALID_ARGUMENT.
func upperSnake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// timeCell is a time in UTC to the second; unset is "".
func timeCell(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// durationCell is a duration as Go writes it; unset is "".
func durationCell(d *durationpb.Duration) string {
	if d == nil {
		return ""
	}
	return d.AsDuration().String()
}

// callError is a failed API call as people read it: the status message and
// code, then each field violation or failed precondition on a line of its
// own. status.Code still finds the code through it.
type callError struct {
	err error
	st  *status.Status
}

// apiErr wraps the error of an API call; other errors pass unchanged.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return &callError{err: err, st: st}
}

func (e *callError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", e.st.Message(), upperSnake(e.st.Code().String()))
	if e.st.Code() == codes.Unavailable {
		b.WriteString("\n  is a control plane listening there? --server or PLUGS_SERVER names another address")
	}
	for _, d := range e.st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				fmt.Fprintf(&b, "\n  %s: %s", orDash(cmp.Or(v.GetSubject(), v.GetType())), v.GetDescription())
			}
		}
	}
	return b.String()
}

func (e *callError) Unwrap() error { return e.err }
