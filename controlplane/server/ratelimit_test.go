package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/server"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Each API key has its own bucket, shared by gRPC and REST: past it a call
// is RESOURCE_EXHAUSTED with a RetryInfo and a retry-after header, and
// REST answers 429 with Retry-After. Another key is not affected.
func TestAPIKeyRateLimit(t *testing.T) {
	e := startEnvWith(t, "sqlite", func(c *server.Config) {
		c.APIRateLimit = &plugsv1.RateLimit{RequestsPerSecond: 0.01, Burst: 3}
	})
	list := func(key string) error {
		_, err := e.sources().ListSources(as(key), &plugsv1.ListSourcesRequest{})
		return err
	}
	for i := range 2 {
		if err := list(e.keyA); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	if code, body := e.rest("GET", "/v1/sources", e.keyA, ""); code != http.StatusOK {
		t.Fatalf("REST call within the burst: %d %s", code, body)
	}

	var header metadata.MD
	_, err := e.sources().ListSources(as(e.keyA), &plugsv1.ListSourcesRequest{}, grpc.Header(&header))
	st := wantCode(t, err, codes.ResourceExhausted)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("no RetryInfo in %v", st.Details())
	}
	if v := header.Get("retry-after"); len(v) != 1 {
		t.Fatalf("retry-after header %v", header)
	} else if n, err := strconv.Atoi(v[0]); err != nil || n < 1 {
		t.Fatalf("retry-after %q", v[0])
	}

	req, _ := http.NewRequest("GET", "http://"+e.srv.HTTPAddr+"/v1/sources", nil)
	req.Header.Set("Authorization", "Bearer "+e.keyA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("REST past the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Writes count too, and another tenant's key has its own bucket.
	_, err = e.sources().UpdateSource(as(e.keyA), &plugsv1.UpdateSourceRequest{
		Source: &plugsv1.Source{Id: "00000000-0000-0000-0000-000000000000"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
	})
	wantCode(t, err, codes.ResourceExhausted)
	if err := list(e.keyB); err != nil {
		t.Fatalf("another key limited: %v", err)
	}
	// A wrong key is refused as unauthenticated, not counted against any
	// bucket.
	wantCode(t, list(e.keyA+"x"), codes.Unauthenticated)
}

// A source's rate limit is stored, returned and cleared through the update
// mask (e2e's rate-limit test sees it reach a data plane).
func TestSourceRateLimitRoundTrip(t *testing.T) {
	e := startEnv(t, "sqlite")
	ctx := as(e.keyA)
	req := newSource("limited", secretA)
	req.Source.RateLimit = &plugsv1.RateLimit{RequestsPerSecond: 2.5}
	src, err := e.sources().CreateSource(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rl := src.GetRateLimit(); rl.GetRequestsPerSecond() != 2.5 || rl.GetBurst() != 0 {
		t.Fatalf("created with rate limit %v", rl)
	}
	got, err := e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{
		Source:     &plugsv1.Source{Id: src.GetId(), RateLimit: &plugsv1.RateLimit{RequestsPerSecond: 10, Burst: 20}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limit"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rl := got.GetRateLimit(); rl.GetRequestsPerSecond() != 10 || rl.GetBurst() != 20 {
		t.Fatalf("updated rate limit %v", rl)
	}
	got, err = e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{
		Source: &plugsv1.Source{Id: src.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limit"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRateLimit() != nil {
		t.Fatalf("cleared rate limit is %v", got.GetRateLimit())
	}
}
