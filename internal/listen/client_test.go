package listen

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/consumer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// script is a ListenService whose calls each play one list of messages
// and then either end with an error or go silent.
type script struct {
	plugsv1.UnimplementedListenServiceServer
	mu    sync.Mutex
	calls []*plugsv1.ListenRequest
	plays [][]*plugsv1.ListenResponse
	ends  []error // nil: silent until the caller goes
}

func (s *script) Listen(req *plugsv1.ListenRequest, stream grpc.ServerStreamingServer[plugsv1.ListenResponse]) error {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, req)
	s.mu.Unlock()
	if n >= len(s.plays) {
		<-stream.Context().Done()
		return nil
	}
	for _, m := range s.plays[n] {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	if s.ends[n] != nil {
		return s.ends[n]
	}
	<-stream.Context().Done()
	return nil
}

func (s *script) requests() []*plugsv1.ListenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*plugsv1.ListenRequest(nil), s.calls...)
}

func serve(t *testing.T, s *script) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	plugsv1.RegisterListenServiceServer(gs, s)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ready(cursor string) *plugsv1.ListenResponse {
	return &plugsv1.ListenResponse{Cursor: cursor, Kind: &plugsv1.ListenResponse_Ready{Ready: &plugsv1.ListenReady{SourceIds: []string{"s"}}}}
}

func event(cursor, id string) *plugsv1.ListenResponse {
	return &plugsv1.ListenResponse{Cursor: cursor, Kind: &plugsv1.ListenResponse_Event{Event: &plugsv1.ListenEvent{
		SourceId: "s", ProviderEventId: id, UsageEventId: "u-" + id,
		UsageEvent: &plugsv1.UsageEvent{Id: "u-" + id, SourceId: "s", EventId: id},
	}}}
}

// Each stream opened again asks to resume after the last message handled:
// after a stream that broke, and after one that went silent past the idle
// timeout.
func TestResumesWithTheLastCursor(t *testing.T) {
	s := &script{
		plays: [][]*plugsv1.ListenResponse{
			{ready("c0"), event("c1", "evt_1"), event("c2", "evt_2")},
			{ready("c2")},
			{ready("c2"), event("c3", "evt_3")},
		},
		ends: []error{status.Error(codes.Unavailable, "gone"), nil, status.Error(codes.Internal, "oops")},
	}
	conn := serve(t, s)
	var mu sync.Mutex
	var got []string
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := (&consumer.Verifier{Key: "a-shared-key-0123456789"}).VerifyRequest(r)
		if err != nil {
			t.Errorf("verify: %v", err)
			return
		}
		mu.Lock()
		got = append(got, ev.Usage.GetEventId())
		mu.Unlock()
	}))
	defer local.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &strings.Builder{}
	var outMu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- (&Client{Conn: conn, Signer: &consumer.Signer{Key: "a-shared-key-0123456789"}, ForwardTo: local.URL,
			Out:         writerFunc(func(p []byte) (int, error) { outMu.Lock(); defer outMu.Unlock(); return out.Write(p) }),
			IdleTimeout: 200 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Log: quiet}).Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.requests()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls", len(s.requests()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, r := range s.requests() {
		tokens = append(tokens, r.GetResumeToken())
	}
	if strings.Join(tokens[:4], " ") != " c2 c2 c3" {
		t.Fatalf("resume tokens %q", tokens)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != "evt_1 evt_2 evt_3" {
		t.Fatalf("forwarded %v", got)
	}
	outMu.Lock()
	defer outMu.Unlock()
	if strings.Count(out.String(), "Ready: ") != 1 || strings.Count(out.String(), "\n") != 4 {
		t.Fatalf("output:\n%s", out.String())
	}
}

// A refusal before the stream was ever ready is shown at once, not
// retried; an unreachable control plane is waited for.
func TestRefusedBeforeReadyIsFinal(t *testing.T) {
	s := &script{plays: [][]*plugsv1.ListenResponse{{}}, ends: []error{status.Error(codes.NotFound, "source not found")}}
	conn := serve(t, s)
	err := (&Client{Conn: conn, Signer: &consumer.Signer{Key: "k-0123456789abcdef"}, Out: io.Discard, Log: quiet}).Run(context.Background())
	if status.Code(err) != codes.NotFound || len(s.requests()) != 1 {
		t.Fatalf("%v after %d calls", err, len(s.requests()))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A raw request is forwarded as received: hop-by-hop headers dropped,
// Plugs' signature added unless the provider sent headers of its names,
// and a body kept only in part is not forwarded at all.
func TestRawRequest(t *testing.T) {
	s := &session{c: &Client{ForwardTo: "http://127.0.0.1:1/hook", Signer: &consumer.Signer{Key: "k-0123456789abcdef"}}}
	ev := &plugsv1.ListenEvent{UsageEventId: "u1"}
	rr := &plugsv1.ListenRequestReceived{Method: "POST", Body: []byte(`{"a":1}`), Headers: []*plugsv1.ReceiptHeader{
		{Name: "Stripe-Signature", Values: []string{"t=1,v1=ab"}},
		{Name: "Content-Length", Values: []string{"999"}},
		{Name: "Connection", Values: []string{"close"}},
		{Name: "Authorization", Values: []string{"[redacted]"}},
	}}
	req, note, err := s.rawRequest(context.Background(), ev, rr)
	if err != nil || note != "" {
		t.Fatal(err, note)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Header.Get("Stripe-Signature") != "t=1,v1=ab" || req.Header.Get("Connection") != "" || req.Header.Get("Content-Length") != "" ||
		req.Header.Get("Authorization") != "[redacted]" {
		t.Fatalf("headers %v", req.Header)
	}
	if err := (&consumer.Verifier{Key: "k-0123456789abcdef"}).VerifySignature(body, req.Header); err != nil || req.Header.Get("Webhook-Id") != "u1" {
		t.Fatalf("Plugs' signature: %v %v", err, req.Header)
	}

	// A Standard Webhooks sender's own headers are kept.
	rr.Headers = append(rr.Headers, &plugsv1.ReceiptHeader{Name: "webhook-signature", Values: []string{"v1,provider"}})
	req, note, err = s.rawRequest(context.Background(), ev, rr)
	if err != nil || req.Header.Get("Webhook-Signature") != "v1,provider" || req.Header.Get("Webhook-Id") != "" || !strings.Contains(note, "webhook-signature kept") {
		t.Fatalf("%v %q %v", err, note, req.Header)
	}

	rr.BodyTruncated = true
	if _, _, err := s.rawRequest(context.Background(), ev, rr); !errors.Is(err, ErrNotForwarded) {
		t.Fatalf("truncated body: %v", err)
	}
}
