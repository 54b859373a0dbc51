package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// restError is a REST error answer with its field violations.
type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

// A body that does not decode answers INVALID_ARGUMENT naming the member
// at fault, with its path as the caller spelled it, in a BadRequest.
func TestRESTBodyFaultNamesTheField(t *testing.T) {
	e := startEnvAllowingHTTP(t, "sqlite", "127.0.0.1")
	for _, tc := range []struct {
		path, body, field, desc string
	}{
		{"/v1/sources", `{"name": "x", "displayName": "x"}`, "name", "unknown field"},
		{"/v1/destinations", `{"displayName": "b", "url": "http://127.0.0.1:1/u", "retryPolicy": {"maxAttempts": 3, "bogus": 1}}`,
			"retryPolicy.bogus", "unknown field"},
		{"/v1/destinations", `{"displayName": "b", "maxConcurrency": "many"}`, "maxConcurrency", `invalid value for int32 field maxConcurrency: "many"`},
		{"/v1/sources", `{"signatureScheme": {"signedParts": [{"kind": "KIND_BODY"}, {"kind": "KIND_NOPE"}]}}`,
			"signatureScheme.signedParts[1].kind", "invalid value for enum field kind"},
		{"/v1/sources", `{"display_name": "x", "dedupWindow": "3 days"}`, "dedupWindow", "invalid google.protobuf.Duration value"},
	} {
		code, body := e.rest(http.MethodPost, tc.path, e.keyA, tc.body)
		var got restError
		if err := json.Unmarshal(body, &got); err != nil || code != http.StatusBadRequest || got.Code != 3 {
			t.Fatalf("%s %s: %d %s", tc.path, tc.body, code, body)
		}
		if len(got.Details) != 1 || !strings.HasSuffix(got.Details[0].Type, "google.rpc.BadRequest") ||
			len(got.Details[0].FieldViolations) != 1 {
			t.Fatalf("%s: want one field violation: %s", tc.body, body)
		}
		v := got.Details[0].FieldViolations[0]
		if v.Field != tc.field || !strings.Contains(v.Description, tc.desc) {
			t.Errorf("%s: violation %q %q, want %q %q", tc.body, v.Field, v.Description, tc.field, tc.desc)
		}
		if !strings.Contains(got.Message, tc.field) || strings.Contains(got.Message, "proto:") {
			t.Errorf("%s: message %q", tc.body, got.Message)
		}
	}

	// Not an object at all: no field to name, but no protojson wording.
	code, body := e.rest(http.MethodPost, "/v1/sources", e.keyA, `[1]`)
	var got restError
	if err := json.Unmarshal(body, &got); err != nil || code != http.StatusBadRequest || got.Code != 3 ||
		!strings.HasPrefix(got.Message, "request body: ") || strings.Contains(got.Message, "proto:") {
		t.Fatalf("array body: %d %s", code, body)
	}
	// A body that decodes still reaches the service's own validation.
	code, body = e.rest(http.MethodPost, "/v1/sources", e.keyA, `{"displayName": "x", "templateId": "nope"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "source.template_id") {
		t.Fatalf("validation: %d %s", code, body)
	}
}

// Empty lists and zero counts are written out: an answer of {} reads as
// no answer.
func TestRESTAnswersWriteEmptyLists(t *testing.T) {
	e := startEnv(t, "sqlite")
	for path, want := range map[string]string{
		"/v1/sources":          `{"sources":[]}`,
		"/v1/destinations":     `{"destinations":[]}`,
		"/v1/replayOperations": `{"operations":[]}`,
	} {
		code, body := e.rest(http.MethodGet, path, e.keyA, "")
		if code != http.StatusOK || string(compactJSON(t, body)) != want {
			t.Errorf("GET %s: %d %s, want %s", path, code, body, want)
		}
	}
}
