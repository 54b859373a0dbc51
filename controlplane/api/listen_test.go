package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeFeed hands out readers fed by the test.
type fakeFeed struct {
	mu     sync.Mutex
	opened []api.ListenQuery
	events chan *plugsv1.ListenEvent
}

func (f *fakeFeed) Open(_ context.Context, q api.ListenQuery) (api.ListenReader, error) {
	if q.Resume == "bad" {
		return nil, api.ErrResumeToken
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, q)
	return &fakeReader{f: f, cursor: q.Resume}, nil
}

func (f *fakeFeed) queries() []api.ListenQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ListenQuery(nil), f.opened...)
}

type fakeReader struct {
	f      *fakeFeed
	cursor string
}

func (r *fakeReader) Next(ctx context.Context) (*plugsv1.ListenEvent, error) {
	select {
	case ev := <-r.f.events:
		r.cursor = "after-" + ev.GetProviderEventId()
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *fakeReader) Cursor() string { return r.cursor }
func (r *fakeReader) Close()         {}

// fakeStream is the server side of one Listen call.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
	out chan *plugsv1.ListenResponse
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) Send(m *plugsv1.ListenResponse) error {
	select {
	case s.out <- m:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *fakeStream) SetHeader(metadata.MD) error { return nil }

// changes is a ChangeNotifier the test moves.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *changes) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *changes) move() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.ch)
	c.ch = make(chan struct{})
}

type listenWorld struct {
	l       *api.Listen
	feed    *fakeFeed
	changes *changes
	sources *api.Sources
	tenant  context.Context
	other   context.Context
}

// eachDialect runs test in a fresh world on each storage dialect.
func eachDialect(t *testing.T, test func(t *testing.T, w *listenWorld)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { test(t, newListenWorld(t, d)) })
	}
}

func newListenWorld(t *testing.T, dialect string) *listenWorld {
	t.Helper()
	db := storetest.Open(t, dialect)
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	ten, _, err := auth.Bootstrap(context.Background(), db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := auth.Bootstrap(context.Background(), db.Client, "other", "k")
	if err != nil {
		t.Fatal(err)
	}
	w := &listenWorld{
		feed: &fakeFeed{events: make(chan *plugsv1.ListenEvent)}, changes: &changes{ch: make(chan struct{})},
		sources: &api.Sources{Client: db.Client, Catalog: templates.MustBuiltin(), Keyring: kr, Log: quiet, Rollout: &api.Rollout{Client: db.Client}},
		tenant:  viewer.ForTenant(context.Background(), ten.ID),
		other:   viewer.ForTenant(context.Background(), other.ID),
	}
	w.l = &api.Listen{Client: db.Client, Feed: w.feed, Changes: w.changes, Shutdown: make(chan struct{}),
		Heartbeat: time.Hour, MaxStreams: 2, Log: quiet}
	return w
}

func (w *listenWorld) source(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := w.sources.CreateSource(ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s.GetId()
}

// call runs one Listen call; cancel ends it, and the error it ended with
// arrives on done.
func (w *listenWorld) call(ctx context.Context, l *api.Listen, req *plugsv1.ListenRequest) (*fakeStream, context.CancelFunc, chan error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &fakeStream{ctx: ctx, out: make(chan *plugsv1.ListenResponse, 16)}
	done := make(chan error, 1)
	go func() { done <- l.Listen(req, s) }()
	return s, cancel, done
}

func recv(t *testing.T, s *fakeStream, done chan error) *plugsv1.ListenResponse {
	t.Helper()
	select {
	case m := <-s.out:
		return m
	case err := <-done:
		t.Fatalf("the call ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func ended(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end")
	}
	return nil
}

// Requests are checked before anything is opened: malformed ids, another
// tenant's source, a resume token the feed does not know, no backbone.
func TestListenRefuses(t *testing.T) {
	eachDialect(t, func(t *testing.T, w *listenWorld) {
		mine := w.source(t, w.tenant)
		theirs := w.source(t, w.other)
		for _, c := range []struct {
			name  string
			l     *api.Listen
			req   *plugsv1.ListenRequest
			code  codes.Code
			field string
		}{
			{"malformed id", w.l, &plugsv1.ListenRequest{SourceIds: []string{mine, "nope"}}, codes.InvalidArgument, "source_ids[1]"},
			{"another tenant's source", w.l, &plugsv1.ListenRequest{SourceIds: []string{mine, theirs}}, codes.NotFound, theirs},
			{"unknown resume token", w.l, &plugsv1.ListenRequest{ResumeToken: "bad"}, codes.InvalidArgument, "resume_token"},
			{"no backbone", &api.Listen{Client: w.l.Client, Log: quiet}, &plugsv1.ListenRequest{}, codes.FailedPrecondition, "backbone"},
		} {
			_, _, done := w.call(w.tenant, c.l, c.req)
			err := ended(t, done)
			if status.Code(err) != c.code || !strings.Contains(fmt.Sprint(status.Convert(err).Message(), status.Convert(err).Details()), c.field) {
				t.Errorf("%s: %v, want %s naming %s", c.name, err, c.code, c.field)
			}
		}
		if n := len(w.feed.queries()); n != 0 {
			t.Errorf("%d readers opened for refused calls", n)
		}
	})
}

// A stream is ready first, then carries each event with the reader's
// cursor, heartbeats when idle, and ends UNAVAILABLE when the server shuts
// down, so the caller resumes elsewhere.
func TestListenStreams(t *testing.T) {
	eachDialect(t, func(t *testing.T, w *listenWorld) {
		src := w.source(t, w.tenant)
		w.l.Heartbeat = 50 * time.Millisecond
		shutdown := make(chan struct{})
		w.l.Shutdown = shutdown
		s, cancel, done := w.call(w.tenant, w.l, &plugsv1.ListenRequest{SourceIds: []string{src}, Raw: true, ResumeToken: "c0"})
		defer cancel()
		ready := recv(t, s, done)
		if ready.GetReady().GetSourceIds()[0] != src || !ready.GetReady().GetRaw() || ready.GetCursor() != "c0" {
			t.Fatalf("ready %v", ready)
		}
		q := w.feed.queries()[0]
		if q.Resume != "c0" || !q.Raw || len(q.SourceIDs) != 1 || q.SourceIDs[0] != src || q.TenantID == "" {
			t.Fatalf("opened %+v", q)
		}
		w.feed.events <- &plugsv1.ListenEvent{ProviderEventId: "evt_1"}
		var m *plugsv1.ListenResponse
		for m = recv(t, s, done); m.GetHeartbeat() != nil; m = recv(t, s, done) {
		}
		if m.GetEvent().GetProviderEventId() != "evt_1" || m.GetCursor() != "after-evt_1" {
			t.Fatalf("event %v", m)
		}
		if hb := recv(t, s, done); hb.GetHeartbeat() == nil || hb.GetCursor() != "after-evt_1" {
			t.Fatalf("heartbeat %v", hb)
		}
		close(shutdown)
		if err := ended(t, done); status.Code(err) != codes.Unavailable {
			t.Fatalf("on shutdown: %v", err)
		}
	})
}

// A stream following every source of the tenant follows a source created
// while it is open, from the cursor it had reached.
func TestListenFollowsNewSources(t *testing.T) {
	eachDialect(t, func(t *testing.T, w *listenWorld) {
		first := w.source(t, w.tenant)
		s, cancel, done := w.call(w.tenant, w.l, &plugsv1.ListenRequest{})
		defer cancel()
		if ready := recv(t, s, done); len(ready.GetReady().GetSourceIds()) != 1 || ready.GetReady().GetSourceIds()[0] != first {
			t.Fatalf("ready %v", ready)
		}
		w.feed.events <- &plugsv1.ListenEvent{ProviderEventId: "evt_1"}
		recv(t, s, done)
		second := w.source(t, w.tenant)
		w.source(t, w.other) // not followed
		w.changes.move()
		deadline := time.Now().Add(10 * time.Second)
		for len(w.feed.queries()) < 2 {
			if time.Now().After(deadline) {
				t.Fatal("not reopened")
			}
			time.Sleep(5 * time.Millisecond)
		}
		q := w.feed.queries()[1]
		if q.Resume != "after-evt_1" || len(q.SourceIDs) != 2 || !strings.Contains(strings.Join(q.SourceIDs, " "), second) {
			t.Fatalf("reopened %+v", q)
		}
		// A change that adds no source of the tenant reopens nothing.
		w.changes.move()
		w.feed.events <- &plugsv1.ListenEvent{ProviderEventId: "evt_2"}
		if m := recv(t, s, done); m.GetEvent().GetProviderEventId() != "evt_2" || len(w.feed.queries()) != 2 {
			t.Fatalf("%v after %d opens", m, len(w.feed.queries()))
		}
		cancel()
		if err := ended(t, done); status.Code(err) != codes.Canceled {
			t.Fatalf("on cancel: %v", err)
		}
	})
}

// A tenant holds at most MaxStreams at once; another tenant is not held
// back by it, and a stream ended frees its place.
func TestListenLimitsStreamsPerTenant(t *testing.T) {
	eachDialect(t, func(t *testing.T, w *listenWorld) {
		var cancels []context.CancelFunc
		var dones []chan error
		for range 2 {
			s, cancel, done := w.call(w.tenant, w.l, &plugsv1.ListenRequest{})
			recv(t, s, done)
			cancels, dones = append(cancels, cancel), append(dones, done)
		}
		_, _, done := w.call(w.tenant, w.l, &plugsv1.ListenRequest{})
		if err := ended(t, done); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("third stream: %v", err)
		}
		s, cancel, done := w.call(w.other, w.l, &plugsv1.ListenRequest{})
		recv(t, s, done)
		cancel()
		cancels[0]()
		if err := ended(t, dones[0]); status.Code(err) != codes.Canceled {
			t.Fatal(err)
		}
		s, cancel, done = w.call(w.tenant, w.l, &plugsv1.ListenRequest{})
		recv(t, s, done)
		cancel()
		cancels[1]()
	})
}
