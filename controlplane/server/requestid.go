package server

import (
	"context"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/internal/logging"
)

// requestIDHeader carries a call's id: taken from the caller when it sends
// a usable one (REST callers send X-Request-Id, which the gateway passes
// on), made otherwise, answered in the response headers, and written in
// every log line of the call.
const requestIDHeader = "x-request-id"

// requestID returns ctx carrying the call's id, and sends the id back.
func requestID(ctx context.Context) context.Context {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(requestIDHeader); len(v) > 0 && usableRequestID(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestIDHeader, id))
	return logging.WithRequestID(ctx, id)
}

// usableRequestID keeps a caller's id short and printable, so it cannot
// forge log lines or fill them.
func usableRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(requestID(ctx), req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &requestIDServerStream{ServerStream: ss, ctx: requestID(ss.Context())})
}

type requestIDServerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *requestIDServerStream) Context() context.Context { return s.ctx }
