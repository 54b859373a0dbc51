package config

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// HandshakeSecrets stores a signing secret a provider handed over in a
// handshake as the source's secret (api.Sources does, sealing it like
// every secret).
type HandshakeSecrets interface {
	CaptureHandshakeSecret(context.Context, *plugsv1.CaptureHandshakeSecretRequest) (*plugsv1.CaptureHandshakeSecretResponse, error)
}

// CaptureHandshakeSecret implements plugs.v1.ConfigDiscoveryService. Only
// data planes reach it (the interceptor admits data-plane credentials alone
// on this service), over TLS or loopback as the stream itself.
func (s *Server) CaptureHandshakeSecret(ctx context.Context, req *plugsv1.CaptureHandshakeSecretRequest) (*plugsv1.CaptureHandshakeSecretResponse, error) {
	if err := requireTLSOrLoopback(ctx); err != nil {
		return nil, err
	}
	if s.Secrets == nil {
		return nil, status.Error(codes.Unimplemented, "this control plane does not store handshake secrets")
	}
	return s.Secrets.CaptureHandshakeSecret(ctx, req)
}
