package auth

import (
	"context"
	"math"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// RetryAfterHeader is the response header metadata of a call refused for
// its rate; the REST gateway answers it as the HTTP Retry-After header.
const RetryAfterHeader = "retry-after"

// Limiter is a set of token buckets keyed by API key (ratelimit.Limiter).
type Limiter interface {
	Allow(key string, limit *plugsv1.RateLimit, now time.Time) (ok bool, retryAfter time.Duration)
}

// KeyLimits bounds the calls each API key makes: Rate requests per second
// with Burst at once, shared by gRPC and REST since both meet in the
// interceptor.
type KeyLimits struct {
	Buckets Limiter
	Limit   *plugsv1.RateLimit
}

// allow refuses a call past the key's rate with RESOURCE_EXHAUSTED, a
// RetryInfo detail and a retry-after header.
func (k *KeyLimits) allow(ctx context.Context, key string) error {
	if k == nil || k.Buckets == nil || k.Limit.GetRequestsPerSecond() <= 0 {
		return nil
	}
	ok, wait := k.Buckets.Allow(key, k.Limit, time.Now())
	if ok {
		return nil
	}
	return exhausted(ctx, "API key over its rate limit", wait)
}

// exhausted is the RESOURCE_EXHAUSTED answer to a call refused for its
// rate: a RetryInfo detail and a retry-after header, in whole seconds.
func exhausted(ctx context.Context, why string, wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	_ = grpc.SetHeader(ctx, metadata.Pairs(RetryAfterHeader, strconv.Itoa(secs)))
	st := status.New(codes.ResourceExhausted, why+"; retry after "+strconv.Itoa(secs)+"s")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}
