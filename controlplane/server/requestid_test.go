package server_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Every call has an id: the caller's X-Request-Id when usable, a new one
// otherwise. It is answered over gRPC and REST and written in the call's
// log lines.
func TestRequestIDs(t *testing.T) {
	e := startEnv(t, "sqlite")
	var header metadata.MD
	if _, err := e.sources().ListSources(as(e.keyA), &plugsv1.ListSourcesRequest{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if v := header.Get("x-request-id"); len(v) != 1 || len(v[0]) < 16 {
		t.Fatalf("gRPC x-request-id %v", v)
	}

	do := func(id string) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+e.srv.HTTPAddr+"/v1/sources/0192d1a0-0000-7000-8000-00000000dead", nil)
		req.Header.Set("Authorization", "Bearer "+e.keyA)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := do("trace-me-42")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Request-Id") != "trace-me-42" {
		t.Fatalf("REST with an id: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	// An id that could forge log lines is replaced.
	resp = do("bad id with spaces")
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \n") {
		t.Fatalf("unusable id answered as %q", got)
	}
	if resp = do(""); resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("REST without an id got none")
	}

	// A call that logs: creating a destination, with the caller's id.
	code, _ := e.restWithID("POST", "/v1/destinations", e.keyA,
		`{"displayName":"d","url":"https://billing.example.com/hook","sharedKey":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, "logged-call-7")
	if code != http.StatusOK {
		t.Fatalf("create destination: %d", code)
	}
	var found bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "destination created") {
			found = strings.Contains(line, `"request_id":"logged-call-7"`)
		}
	}
	if !found {
		t.Fatalf("the call's log line lacks its request id:\n%s", e.logs.String())
	}
}
