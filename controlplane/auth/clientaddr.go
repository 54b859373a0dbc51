package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Metadata the REST gateway sets on the calls it makes for REST callers.
// Every REST call reaches the gRPC listener from the gateway's loopback
// connection, so the peer address says nothing about the caller; the
// gateway says who it is, with a key only this process knows, so no other
// client can claim an address of its choosing.
const (
	gatewayKeyMetadata    = "x-plugs-gateway-key"
	clientAddressMetadata = "x-plugs-client-address"
)

// Gateway is the REST gateway's claim to speak for its callers: it adds
// the REST caller's address to each call, and the interceptor believes it
// only with the gateway's key.
type Gateway struct{ key string }

// NewGateway returns a gateway with a random key.
func NewGateway() *Gateway {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return &Gateway{key: hex.EncodeToString(b)}
}

// Metadata is what the gateway adds to the call it makes for r
// (runtime.WithMetadata).
func (g *Gateway) Metadata(_ context.Context, r *http.Request) metadata.MD {
	return metadata.Pairs(gatewayKeyMetadata, g.key, clientAddressMetadata, hostOf(r.RemoteAddr))
}

// Reserved reports whether a metadata key is one only the gateway sets; the
// gateway drops such keys from what REST callers send (Grpc-Metadata-…).
func Reserved(key string) bool {
	key = strings.ToLower(key)
	return key == gatewayKeyMetadata || key == clientAddressMetadata
}

// vouches reports whether md carries the gateway's key, once.
func (g *Gateway) vouches(md metadata.MD) bool {
	v := md.Get(gatewayKeyMetadata)
	return g != nil && len(v) == 1 && subtle.ConstantTimeCompare([]byte(v[0]), []byte(g.key)) == 1
}

// clientAddress is the address a call comes from, as a rate-limit key:
// the REST caller's when the gateway vouches for it, the peer's otherwise.
// An IPv6 address counts as its /64, which one host usually holds whole.
func (in *Interceptor) clientAddress(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if in.Gateway.vouches(md) {
		if v := md.Get(clientAddressMetadata); len(v) == 1 {
			return addressKey(v[0])
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return addressKey(hostOf(p.Addr.String()))
	}
	return ""
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func addressKey(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
