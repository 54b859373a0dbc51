package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// bodyDecoder decodes a REST request body with protojson and, when it
// cannot, finds the member at fault: an unknown field, or a value of the
// wrong type, with its path in the body as the caller spelled it
// ("retryPolicy.maxAttempts", "fieldMappings.properties"). protojson's own
// error says neither where nor, for a nested object, in which message. The
// gateway turns a decoding error into INVALID_ARGUMENT carrying only its
// text, so the text is a bodyError, which restErrorHandler reads back into
// a google.rpc.BadRequest.
type bodyDecoder struct {
	r    io.Reader
	json *runtime.JSONPb
}

// Decode implements runtime.Decoder.
func (d *bodyDecoder) Decode(v any) error {
	body, err := io.ReadAll(d.r)
	if err != nil {
		return err
	}
	err = d.json.NewDecoder(bytes.NewReader(body)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return diagnoseBody(v, body, err)
}

// bodyErrorPrefix starts the text of every bodyError.
const bodyErrorPrefix = "request body: "

// bodyError is a request body protojson refused. field is the member's
// path, or empty when the body as a whole is at fault (not JSON, not an
// object).
type bodyError struct {
	field, description string
}

// Error writes the field quoted, so that restErrorHandler can read it back
// whatever the caller named it.
func (e *bodyError) Error() string {
	if e.field == "" {
		return bodyErrorPrefix + e.description
	}
	return bodyErrorPrefix + strconv.Quote(e.field) + ": " + e.description
}

// maxFieldPath bounds the path quoted back: its keys come from the caller.
const maxFieldPath = 200

// diagnoseBody returns the bodyError of body, which protojson refused with
// err as the message v points to.
func diagnoseBody(v any, body []byte, err error) error {
	if m := messageOf(v); m != nil {
		if field, desc, ok := findBodyFault(m.ProtoReflect(), body, ""); ok {
			if len(field) > maxFieldPath {
				field = field[:maxFieldPath] + "…"
			}
			return &bodyError{field: field, description: desc}
		}
	}
	return &bodyError{description: protojsonReason(err, false)}
}

// messageOf is the message a decoder fills: v itself, or a new message of
// the type v points to (the gateway passes &req.Source for a body that is
// one field of the request).
func messageOf(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Pointer {
		return nil
	}
	m, _ := reflect.New(rv.Elem().Type().Elem()).Interface().(proto.Message)
	return m
}

// findBodyFault walks obj, the JSON of a message of m's type, and returns
// the path and the fault of the first member protojson refuses on its own.
func findBodyFault(m protoreflect.Message, obj []byte, path string) (field, desc string, ok bool) {
	members, err := objectMembers(obj)
	if err != nil {
		return "", "", false
	}
	fields := m.Descriptor().Fields()
	for _, mem := range members {
		p := mem.key
		if path != "" {
			p = path + "." + mem.key
		}
		fd := fields.ByJSONName(mem.key)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(mem.key))
		}
		if fd == nil {
			return p, "unknown field; GET /openapi.json lists the fields of each request", true
		}
		if f, d, ok := findNestedFault(m, fd, mem.val, p); ok {
			return f, d, true
		}
		key, _ := json.Marshal(mem.key)
		single := append(append(append(append([]byte(`{`), key...), ':'), mem.val...), '}')
		if err := protojson.Unmarshal(single, m.New().Interface()); err != nil {
			return p, protojsonReason(err, true), true
		}
	}
	return "", "", false
}

// findNestedFault looks for the fault inside a member holding messages of
// this API (not well-known types, whose JSON forms protojson checks whole).
func findNestedFault(m protoreflect.Message, fd protoreflect.FieldDescriptor, val []byte, path string) (string, string, bool) {
	if fd.Message() == nil || fd.IsMap() || strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
		return "", "", false
	}
	sub := m.NewField(fd)
	if !fd.IsList() {
		return findBodyFault(sub.Message(), val, path)
	}
	var elems []json.RawMessage
	if json.Unmarshal(val, &elems) != nil {
		return "", "", false
	}
	elem := sub.List().NewElement().Message()
	for i, e := range elems {
		if f, d, ok := findBodyFault(elem, e, fmt.Sprintf("%s[%d]", path, i)); ok {
			return f, d, true
		}
	}
	return "", "", false
}

// protojsonPrefix is what protojson puts before its reason: "proto:" and a
// space (sometimes a non-breaking one, to keep callers from matching its
// text) and, for a member decoded alone, a position that is meaningless
// in the caller's body.
var (
	protojsonPrefix   = regexp.MustCompile(`^proto:[\s\x{00a0}]*`)
	protojsonPosition = regexp.MustCompile(`\(line \d+:\d+\):?[\s\x{00a0}]*`)
)

func protojsonReason(err error, dropPosition bool) string {
	s := protojsonPrefix.ReplaceAllString(err.Error(), "")
	if dropPosition {
		s = protojsonPosition.ReplaceAllString(s, "")
	}
	return strings.TrimSpace(s)
}

// restErrorHandler is the gateway's error handler, except that a request
// body it could not decode answers INVALID_ARGUMENT with a
// google.rpc.BadRequest naming the member at fault, as the services'
// own validation does.
func restErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, bodyErrorStatus(err))
}

// bodyErrorStatus reads a bodyError back from the status the gateway made
// of it; any other error is returned as it is.
func bodyErrorStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	rest, found := strings.CutPrefix(st.Message(), bodyErrorPrefix)
	if !found {
		return err
	}
	quoted, qerr := strconv.QuotedPrefix(rest)
	if qerr != nil {
		return err // the body as a whole: no field to name
	}
	field, _ := strconv.Unquote(quoted)
	desc := strings.TrimPrefix(rest[len(quoted):], ": ")
	out := status.New(codes.InvalidArgument, bodyErrorPrefix+field+": "+desc)
	if d, err := out.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: desc},
	}}); err == nil {
		out = d
	}
	return out.Err()
}
