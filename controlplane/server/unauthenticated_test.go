package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/controlplane/server"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// restFrom returns a REST caller on its own loopback address.
func restFrom(t *testing.T, e *env, ip string) func(key string, header http.Header) (int, http.Header) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	t.Cleanup(client.CloseIdleConnections)
	return func(key string, header http.Header) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+e.srv.HTTPAddr+"/v1/sources", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}
}

// grpcFrom returns a gRPC client on its own loopback address.
func grpcFrom(t *testing.T, e *env, ip string) plugsv1.SourceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(e.srv.GRPCAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			return d.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return plugsv1.NewSourceServiceClient(conn)
}

// Calls without valid credentials are limited per client address, and
// the address of a REST call is its caller's, not the gateway's loopback
// one: a guesser is held back, other REST callers are not. No caller can
// pick the address it is counted under.
func TestUnauthenticatedCallsLimitedPerAddress(t *testing.T) {
	e := startEnvWith(t, "sqlite", func(c *server.Config) {
		c.UnauthenticatedRateLimit = &plugsv1.RateLimit{RequestsPerSecond: 0.01, Burst: 3}
	})
	guesser := restFrom(t, e, "127.0.0.2")
	for i := range 5 {
		// Valid calls take nothing from the address's allowance.
		if code, _ := guesser(e.keyA, nil); code != http.StatusOK {
			t.Fatalf("valid call %d: %d", i, code)
		}
	}
	for i := range 3 {
		if code, _ := guesser("plugs_wrong_key", nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d", i, code)
		}
	}
	code, h := guesser("plugs_wrong_key", nil)
	if n, err := strconv.Atoi(h.Get("Retry-After")); code != http.StatusTooManyRequests || err != nil || n < 1 {
		t.Fatalf("past the limit: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	// A right key from there waits too: answering it otherwise would tell
	// a guesser when it found one.
	if code, _ := guesser(e.keyA, nil); code != http.StatusTooManyRequests {
		t.Fatalf("valid key from a limited address: %d", code)
	}

	// Another REST caller comes through the same gateway connection, and
	// is not held back.
	other := restFrom(t, e, "127.0.0.3")
	if code, _ := other("", nil); code != http.StatusUnauthorized {
		t.Fatalf("another REST caller without a key: %d", code)
	}
	if code, _ := other(e.keyA, nil); code != http.StatusOK {
		t.Fatalf("another REST caller: %d", code)
	}

	// A REST caller claiming another address is counted under its own.
	claims := http.Header{"Grpc-Metadata-X-Plugs-Client-Address": {"127.0.0.9"}, "Grpc-Metadata-X-Plugs-Gateway-Key": {"guess"}}
	liar := restFrom(t, e, "127.0.0.4")
	for range 3 {
		liar("plugs_wrong_key", claims)
	}
	if code, _ := liar("plugs_wrong_key", claims); code != http.StatusTooManyRequests {
		t.Fatalf("REST caller claiming another address: %d", code)
	}
	if code, _ := restFrom(t, e, "127.0.0.9")("", nil); code != http.StatusUnauthorized {
		t.Fatalf("the claimed address was charged: %d", code)
	}

	// gRPC callers likewise, with a RetryInfo, whatever metadata they send.
	direct := grpcFrom(t, e, "127.0.0.5")
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer plugs_wrong_key", "x-plugs-client-address", "127.0.0.6", "x-plugs-gateway-key", "guess")
	for range 3 {
		_, err := direct.ListSources(ctx, &plugsv1.ListSourcesRequest{})
		wantCode(t, err, codes.Unauthenticated)
	}
	var header metadata.MD
	_, err := direct.ListSources(ctx, &plugsv1.ListSourcesRequest{}, grpc.Header(&header))
	st := wantCode(t, err, codes.ResourceExhausted)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 || len(header.Get("retry-after")) != 1 {
		t.Fatalf("no RetryInfo or retry-after: %v %v", st.Details(), header)
	}
	if _, err := grpcFrom(t, e, "127.0.0.6").ListSources(as(e.keyA), &plugsv1.ListSourcesRequest{}); err != nil {
		t.Fatalf("the claimed address was charged: %v", err)
	}
}

// readFrames reads HTTP/2 frames until one satisfies stop.
func readFrames(t *testing.T, fr *http2.Framer, stop func(http2.Frame) bool) http2.Frame {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without the frame looked for: %v", err)
		}
		if stop(f) {
			return f
		}
	}
}

// rawConn opens an HTTP/2 connection to the gRPC listener and returns
// the server's first SETTINGS.
func rawConn(t *testing.T, addr string) (*http2.Framer, *http2.SettingsFrame) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	settings := readFrames(t, fr, func(f http2.Frame) bool {
		s, ok := f.(*http2.SettingsFrame)
		return ok && !s.IsAck()
	}).(*http2.SettingsFrame)
	if err := fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return fr, settings
}

// The gRPC listener bounds the streams of a connection, closes a
// connection left idle, and sends away a client pinging too often.
func TestGRPCConnectionLimits(t *testing.T) {
	e := startEnvWith(t, "sqlite", func(c *server.Config) { c.MaxConnectionIdle = 300 * time.Millisecond })

	fr, settings := rawConn(t, e.srv.GRPCAddr)
	if v, ok := settings.Value(http2.SettingMaxConcurrentStreams); !ok || v != 1000 {
		t.Fatalf("max concurrent streams %v (set %v)", v, ok)
	}
	start := time.Now()
	away := readFrames(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if away.ErrCode != http2.ErrCodeNo || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("idle connection: GOAWAY %v after %v", away.ErrCode, time.Since(start))
	}

	fr, _ = rawConn(t, e.srv.GRPCAddr)
	for i := range 5 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			break // already sent away
		}
	}
	away = readFrames(t, fr, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }).(*http2.GoAwayFrame)
	if away.ErrCode != http2.ErrCodeEnhanceYourCalm || string(away.DebugData()) != "too_many_pings" {
		t.Fatalf("pings 0 s apart: GOAWAY %v %q", away.ErrCode, away.DebugData())
	}
}
