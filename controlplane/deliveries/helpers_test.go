package deliveries_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/deliveries"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// world is an embedded JetStream and a database of one dialect.
type world struct {
	t    *testing.T
	js   jetstream.JetStream
	db   *store.DB
	logs *syncBuffer
}

func eachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

// newWorld starts an embedded NATS server; withStreams creates the
// streams as a data plane would.
func newWorld(t *testing.T, dialect string, withStreams bool) *world {
	t.Helper()
	ctx := context.Background()
	nsrv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsrv.Shutdown)
	nc, err := backbone.Connect(ctx, backbone.Options{URL: nsrv.URL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := &world{t: t, js: nc.JS, db: storetest.Open(t, dialect), logs: &syncBuffer{}}
	if withStreams {
		w.ensureStreams()
	}
	return w
}

func (w *world) ensureStreams() {
	w.t.Helper()
	if err := backbone.EnsureStreams(context.Background(), w.js, backbone.StreamOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) log() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (w *world) indexer() *deliveries.Indexer {
	return &deliveries.Indexer{DB: w.db, JS: w.js, Settings: streamindex.Settings{RetryDelay: 50 * time.Millisecond}, Log: w.log()}
}

// start runs an indexer until the test ends.
func (w *world) start(ix *deliveries.Indexer) {
	w.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- ix.Run(context.Background()) }()
	w.t.Cleanup(func() {
		ix.Stop()
		if err := <-errc; err != nil {
			w.t.Error(err)
		}
	})
}

// publish stores an attempt in the delivery log as a data plane does.
func (w *world) publish(a forward.Attempt) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := forward.PublishAttempt(ctx, w.js, "dp-1", a); err != nil {
		w.t.Fatal(err)
	}
}

// publishRaw stores a message on subject with the tenant header, as
// anything else might.
func (w *world) publishRaw(subject, tenant string, data []byte) {
	w.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = data
	if tenant != "" {
		m.Header.Set(forward.HeaderTenantID, tenant)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, m); err != nil {
		w.t.Fatal(err)
	}
}

// rows reads every indexed attempt, oldest first.
func (w *world) rows() []*ent.DeliveryAttempt {
	w.t.Helper()
	rs, err := w.db.Client.DeliveryAttempt.Query().Order(ent.Asc("attempt_time"), ent.Asc("id")).All(viewer.System(context.Background()))
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

// waitRows polls until n attempts are indexed.
func (w *world) waitRows(n int) []*ent.DeliveryAttempt {
	w.t.Helper()
	var rs []*ent.DeliveryAttempt
	waitFor(w.t, func() bool { rs = w.rows(); return len(rs) == n }, func() string {
		return fmt.Sprintf("attempts indexed: %d, want %d", len(rs), n)
	})
	return rs
}

// waitSettled polls until the indexer's consumer has every message of the
// stream delivered and settled.
func (w *world) waitSettled() {
	w.t.Helper()
	waitFor(w.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := w.js.Consumer(ctx, backbone.AttemptsStream, deliveries.ConsumerName)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	}, func() string { return "consumer not settled" })
}

func waitFor(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newAttempt is a failed first attempt to a tenant's destination, made at
// t and due again a minute later.
func newAttempt(tenant, dest uuid.UUID, t time.Time) forward.Attempt {
	return forward.Attempt{
		ID:              uuid.Must(uuid.NewV7()).String(),
		DestinationID:   dest.String(),
		TenantID:        tenant.String(),
		SourceID:        uuid.NewString(),
		ProviderEventID: "evt_1",
		EventType:       "invoice.paid",
		EventID:         uuid.NewString(),
		Number:          1,
		DeliverySeq:     42,
		Time:            t,
		StatusCode:      503,
		Latency:         12 * time.Millisecond,
		Err:             fmt.Errorf("%w: 503 Service Unavailable: down", forward.ErrStatus),
		Outcome:         forward.Retrying,
		NextRetry:       t.Add(time.Minute),
	}
}
