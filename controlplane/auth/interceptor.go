package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/ent/viewer"
)

// ConfigServicePrefix is the gRPC service data planes call; it takes
// data-plane tokens or client certificates, never tenant API keys.
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
	// DataPlanes checks data-plane tokens; nil means only a client
	// certificate opens the configuration stream.
	DataPlanes *DataPlanes
	// Limits bounds each API key's calls; nil means no limit.
	Limits *KeyLimits
	// Unauthenticated bounds the calls each client address makes without
	// valid credentials; nil means no limit.
	Unauthenticated *AddressLimits
	// Gateway is the REST gateway whose word on a REST caller's address
	// is taken; nil means the peer address is always the caller's.
	Gateway *Gateway
	Log     *slog.Logger
}

func (in *Interceptor) authenticate(ctx context.Context, method string) (context.Context, error) {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	if !in.Unauthenticated.on() {
		return in.credentials(ctx, method)
	}
	addr := in.clientAddress(ctx)
	if err := in.Unauthenticated.check(ctx, addr); err != nil {
		in.logger().DebugContext(ctx, "call refused: too many without valid credentials", "method", method, "address", addr)
		return nil, err
	}
	ctx, err := in.credentials(ctx, method)
	if status.Code(err) == codes.Unauthenticated {
		in.Unauthenticated.failed(addr)
	}
	return ctx, err
}

// credentials authenticates the call's API key, data-plane token or
// client certificate.
func (in *Interceptor) credentials(ctx context.Context, method string) (context.Context, error) {
	if strings.HasPrefix(method, ConfigServicePrefix) {
		return in.authenticateDataPlane(ctx, method)
	}
	// A client certificate says nothing about a tenant: tenant calls
	// always need an API key.
	token, err := bearer(ctx)
	if err != nil {
		return nil, unauthenticated(err, "<API key>")
	}
	tenantID, err := in.Keys.Authenticate(ctx, token)
	if err != nil {
		return nil, in.failure(ctx, method, err)
	}
	// Keyed by the key's public prefix: the bucket is the key's, and no
	// secret is kept in memory for it.
	prefix, _ := splitAPIKeyToken(token)
	if err := in.Limits.allow(ctx, prefix); err != nil {
		return nil, err
	}
	return viewer.ForTenant(ctx, tenantID), nil
}

// authenticateDataPlane admits a data plane that presented a client
// certificate the TLS handshake verified, or else a data-plane token.
func (in *Interceptor) authenticateDataPlane(ctx context.Context, method string) (context.Context, error) {
	if cert := verifiedClientCert(ctx); cert != nil {
		in.logger().DebugContext(ctx, "data plane authenticated by client certificate", "subject", cert.Subject.String())
		return viewer.System(ctx), nil
	}
	token, err := bearer(ctx)
	if err != nil {
		return nil, unauthenticated(err, "<data-plane token>, or present a client certificate")
	}
	if in.DataPlanes == nil {
		return nil, unauthenticated(ErrInvalidCredentials, "")
	}
	if err := in.DataPlanes.Authenticate(ctx, token); err != nil {
		return nil, in.failure(ctx, method, err)
	}
	return viewer.System(ctx), nil
}

// failure maps an authenticator's error: a wrong credential is
// UNAUTHENTICATED; a store that cannot answer is UNAVAILABLE, so clients
// retry instead of believing their credential was revoked.
func (in *Interceptor) failure(ctx context.Context, method string, err error) error {
	if !errors.Is(err, ErrInvalidCredentials) {
		in.logger().ErrorContext(ctx, "authentication failed", "method", method, "error", err)
		return status.Error(codes.Unavailable, "authentication is unavailable")
	}
	return unauthenticated(err, "")
}

// bearer returns the bearer token of the call's metadata.
func bearer(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var header string
	if v := md.Get("authorization"); len(v) > 0 {
		header = v[0]
	}
	return BearerToken(header)
}

// verifiedClientCert returns the leaf of a client certificate chain the TLS
// handshake verified, or nil. A chain is only verified when the server was
// given a client CA (--tls-client-ca), and that CA is trusted to vouch for
// data planes alone; a certificate presented but not verified never gets
// here, because the handshake refuses it.
func verifiedClientCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0][0]
}

func (in *Interceptor) logger() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}

// unauthenticated is the status of a missing or wrong credential; want
// tells a caller that sent none what to send.
func unauthenticated(err error, want string) error {
	if errors.Is(err, ErrNoCredentials) {
		return status.Error(codes.Unauthenticated, "missing credentials: send Authorization: Bearer "+want)
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
