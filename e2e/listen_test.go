package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/auth"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/listen"
)

// plugs listen against a running control and data plane, in both modes:
// every webhook accepted on the followed source reaches the local server
// once, verifiable with the consumer package, across a connection cut
// while webhooks keep arriving; a source not followed, and requests not
// accepted, never do.
func TestListenForwardsEachWebhookOnce(t *testing.T) {
	for _, mode := range []struct {
		name string
		raw  bool
	}{{"usage events", false}, {"raw", true}} {
		t.Run(mode.name, func(t *testing.T) {
			w := start(t)
			src, other := w.stripeSource(), w.stripeSource()
			key := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			local := newLocal(t, key, mode.raw)
			proxy := newCutProxy(t, w.grpcAddr)

			conn, err := grpc.NewClient(proxy.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			out := &lockedBuffer{}
			ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+w.key))
			done := make(chan error, 1)
			go func() {
				done <- (&listen.Client{Conn: conn, SourceIDs: []string{src}, Raw: mode.raw, ForwardTo: local.srv.URL,
					Signer: &consumer.Signer{Key: key}, Out: out, MaxBackoff: 100 * time.Millisecond, Log: quiet}).Run(ctx)
			}()
			waitFor(t, "the stream to be ready", func() bool { return strings.Contains(string(out.bytes()), "Ready: ") })

			sent := map[string]string{} // provider event id -> Stripe-Signature sent
			send := func(source, id string) {
				t.Helper()
				sig, code := w.sendSignedHeader(source, stripeSecret, invoice(id))
				if code != http.StatusOK {
					t.Fatalf("%s answered %d", id, code)
				}
				if source == src {
					sent[id] = sig
				}
			}
			for i := range 5 {
				send(src, fmt.Sprint("evt_before_", i))
			}
			send(other, "evt_other_source")
			// Rejected: never accepted, never forwarded.
			if code := w.sendSigned(src, "whsec_wrong_0123456789abcdefgh", invoice("evt_forged")); code != http.StatusUnauthorized {
				t.Fatalf("forged webhook answered %d", code)
			}
			waitFor(t, "the first webhooks", func() bool { return local.distinct() == 5 })

			// The connection drops; webhooks keep arriving meanwhile.
			proxy.cut()
			for i := range 5 {
				send(src, fmt.Sprint("evt_during_", i))
			}
			proxy.resume()
			waitFor(t, "the webhooks sent while cut off", func() bool { return local.distinct() == 10 })
			for i := range 3 {
				send(src, fmt.Sprint("evt_after_", i))
			}
			waitFor(t, "every webhook", func() bool { return local.distinct() == 13 })
			// A duplicate is not accepted again, so not forwarded again.
			if _, code := w.sendSignedHeader(src, stripeSecret, invoice("evt_after_0")); code != http.StatusOK {
				t.Fatalf("duplicate answered %d", code)
			}
			send(src, "evt_last")
			waitFor(t, "the last webhook", func() bool { return local.distinct() == 14 })
			// Its line is printed once the local server has answered.
			waitFor(t, "a line per webhook", func() bool { return strings.Count(string(out.bytes()), "\n") == 1+len(sent) })

			cancel()
			if err := <-done; err != nil {
				t.Fatalf("listen: %v", err)
			}
			local.mu.Lock()
			defer local.mu.Unlock()
			for id, sig := range sent {
				got := local.got[id]
				if len(got) != 1 {
					t.Errorf("%s reached the local server %d times, want once", id, len(got))
					continue
				}
				if mode.raw && (got[0].stripeSignature != sig || got[0].body != invoice(id)) {
					t.Errorf("%s: forwarded %q with Stripe-Signature %q, want the request as sent", id, got[0].body, got[0].stripeSignature)
				}
			}
			if len(local.got) != len(sent) || len(local.errs) > 0 {
				t.Errorf("the local server got %d webhooks (want %d) and refused %v", len(local.got), len(sent), local.errs)
			}
			lines := strings.Split(strings.TrimSpace(string(out.bytes())), "\n")
			if len(lines) != 1+len(sent) {
				t.Fatalf("%d lines, want Ready and one per webhook:\n%s", len(lines), string(out.bytes()))
			}
			for _, l := range lines[1:] {
				if !strings.Contains(l, "  "+src+"  invoice.paid ") || !strings.Contains(l, " evt_") || !strings.Contains(l, " 204  ") {
					t.Errorf("line %q: want source, event type, provider event id and status", l)
				}
			}
		})
	}
}

// Another tenant's key sees none of a tenant's webhooks: naming its source
// is NOT_FOUND, and a stream following every source of its own gets only
// its own.
func TestListenIsTenantScoped(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	_, otherKey, err := auth.Bootstrap(context.Background(), w.db.Client, "other", "k")
	if err != nil {
		t.Fatal(err)
	}
	otherCtx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+otherKey)
	own, err := w.sources.CreateSource(otherCtx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: stripeSecret,
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other tenant's source", func() bool { return w.store.Load().Source(own.GetId()) != nil })
	conn, err := grpc.NewClient(w.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := plugsv1.NewListenServiceClient(conn)

	for _, raw := range []bool{false, true} {
		named, err := client.Listen(otherCtx, &plugsv1.ListenRequest{SourceIds: []string{src}, Raw: raw})
		if err == nil {
			_, err = named.Recv()
		}
		if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "source not found") {
			t.Fatalf("another tenant's source (raw %v): %v, want NOT_FOUND", raw, err)
		}
	}

	for _, raw := range []bool{false, true} {
		ctx, cancel := context.WithCancel(otherCtx)
		stream, err := client.Listen(ctx, &plugsv1.ListenRequest{Raw: raw})
		if err != nil {
			t.Fatal(err)
		}
		ready, err := stream.Recv()
		if err != nil || ready.GetReady() == nil || len(ready.GetReady().GetSourceIds()) != 1 || ready.GetReady().GetSourceIds()[0] != own.GetId() {
			t.Fatalf("ready %v %v, want the other tenant's one source", ready, err)
		}
		for i := range 3 {
			if code := w.send(src, invoice(fmt.Sprintf("evt_tenant_%v_%d", raw, i))); code != http.StatusOK {
				t.Fatalf("answered %d", code)
			}
		}
		if code := w.send(own.GetId(), invoice(fmt.Sprintf("evt_own_%v", raw))); code != http.StatusOK {
			t.Fatalf("answered %d", code)
		}
		// Every event up to the other tenant's own webhook, sent after the
		// tenant's three, is of its own source. (A raw stream follows
		// receipts, written after the answer, so the previous round's
		// webhook may still come first.)
		for {
			msg, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			ev := msg.GetEvent()
			if ev == nil {
				continue
			}
			if ev.GetSourceId() != own.GetId() {
				t.Fatalf("raw %v: the other tenant's stream carried %v", raw, ev)
			}
			if ev.GetProviderEventId() == fmt.Sprintf("evt_own_%v", raw) {
				break
			}
		}
		cancel()
	}
}

// The same stream over REST: newline-delimited JSON, ready first, then
// each accepted webhook with its cursor.
func TestListenOverREST(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.rest+"/v1/events:listen?sourceIds="+src, nil)
	req.Header.Set("Authorization", "Bearer "+w.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 4<<20)
	type message struct {
		Result struct {
			Cursor string          `json:"cursor"`
			Ready  json.RawMessage `json:"ready"`
			Event  struct {
				SourceID        string `json:"sourceId"`
				ProviderEventID string `json:"providerEventId"`
				UsageEvent      struct {
					CustomerID string `json:"customerId"`
				} `json:"usageEvent"`
			} `json:"event"`
		} `json:"result"`
	}
	read := func() message {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the stream ended: %v", lines.Err())
		}
		var m message
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", lines.Bytes(), err)
		}
		return m
	}
	if m := read(); m.Result.Ready == nil || m.Result.Cursor == "" {
		t.Fatalf("first message %+v, want ready with a cursor", m)
	}
	if code := w.send(src, invoice("evt_rest")); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	m := read()
	if m.Result.Event.ProviderEventID != "evt_rest" || m.Result.Event.SourceID != src || m.Result.Event.UsageEvent.CustomerID != "cus_1" || m.Result.Cursor == "" {
		t.Fatalf("event %+v", m)
	}
}

// localServer is a developer's handler: it verifies each request with the
// consumer package and records it by provider event id.
type localServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  map[string][]forwarded
	errs []string
}

type forwarded struct{ body, stripeSignature string }

func newLocal(t *testing.T, key string, raw bool) *localServer {
	l := &localServer{got: map[string][]forwarded{}}
	v := &consumer.Verifier{Key: key}
	l.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var id string
		if raw {
			// The provider's request, with Plugs' signature of its body.
			var err error
			if err = v.VerifySignature(body, r.Header); err == nil {
				var ev struct{ ID string }
				err = json.Unmarshal(body, &ev)
				id = ev.ID
			}
			if err != nil {
				l.refuse(rw, err)
				return
			}
		} else {
			ev, err := v.Verify(body, r.Header)
			if err != nil {
				l.refuse(rw, err)
				return
			}
			id = ev.Usage.GetEventId()
		}
		l.mu.Lock()
		l.got[id] = append(l.got[id], forwarded{body: string(body), stripeSignature: r.Header.Get("Stripe-Signature")})
		l.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *localServer) refuse(rw http.ResponseWriter, err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err.Error())
	l.mu.Unlock()
	http.Error(rw, err.Error(), http.StatusUnauthorized)
}

func (l *localServer) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

// cutProxy forwards TCP connections to a target until cut: then it closes
// every connection and refuses new ones until resumed.
type cutProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies until either end closes, then closes both.
func (p *cutProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
