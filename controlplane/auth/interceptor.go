package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/ent/viewer"
)

// ConfigServicePrefix is the gRPC service data planes call; it takes
// data-plane tokens, never tenant API keys.
const ConfigServicePrefix = "/plugs.v1.ConfigDiscoveryService/"

// publicPrefixes need no credentials: server reflection and health.
var publicPrefixes = []string{
	"/grpc.reflection.",
	"/grpc.health.v1.Health/",
}

// Interceptor authenticates every gRPC call and puts the caller's viewer in
// the context. REST calls arrive through the gateway with the Authorization
// header forwarded as metadata, so both paths meet here.
type Interceptor struct {
	Keys *APIKeys
	// DataPlaneTokens are the accepted data-plane tokens; none means the
	// configuration stream is closed to everyone.
	DataPlaneTokens []string
	Log             *slog.Logger
}

func (in *Interceptor) authenticate(ctx context.Context, method string) (context.Context, error) {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var header string
	if v := md.Get("authorization"); len(v) > 0 {
		header = v[0]
	}
	token, err := BearerToken(header)
	if err != nil {
		return nil, unauthenticated(err)
	}
	if strings.HasPrefix(method, ConfigServicePrefix) {
		if !in.dataPlaneTokenOK(token) {
			return nil, unauthenticated(ErrInvalidCredentials)
		}
		return viewer.System(ctx), nil
	}
	tenantID, err := in.Keys.Authenticate(ctx, token)
	if err != nil {
		if !errors.Is(err, ErrInvalidCredentials) {
			in.logger().ErrorContext(ctx, "authentication failed", "method", method, "error", err)
			return nil, status.Error(codes.Unavailable, "authentication is unavailable")
		}
		return nil, unauthenticated(err)
	}
	return viewer.ForTenant(ctx, tenantID), nil
}

func (in *Interceptor) dataPlaneTokenOK(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for _, t := range in.DataPlaneTokens {
		want := sha256.Sum256([]byte(t))
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1
}

func (in *Interceptor) logger() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}

func unauthenticated(err error) error {
	if errors.Is(err, ErrNoCredentials) {
		return status.Error(codes.Unauthenticated, "missing credentials: send Authorization: Bearer <API key>")
	}
	return status.Error(codes.Unauthenticated, "invalid credentials")
}

// Unary is the unary server interceptor.
func (in *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := in.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// Stream is the stream server interceptor.
func (in *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := in.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
