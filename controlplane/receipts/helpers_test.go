package receipts_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
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

// start runs an indexer until the test ends.
func (w *world) start(ix *receipts.Indexer) {
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

func (w *world) indexer() *receipts.Indexer {
	return &receipts.Indexer{DB: w.db, JS: w.js, Settings: streamindex.Settings{RetryDelay: 50 * time.Millisecond}, Log: w.log()}
}

// publish stores a receipt on its subject, as a data plane does.
func (w *world) publish(r *plugsv1.Receipt) {
	w.t.Helper()
	b, err := proto.Marshal(r)
	if err != nil {
		w.t.Fatal(err)
	}
	w.publishRaw(backbone.ReceiptSubject(r.GetTenantId(), r.GetSourceId()), b)
}

func (w *world) publishRaw(subject string, b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.js.Publish(ctx, subject, b); err != nil {
		w.t.Fatal(err)
	}
}

// rows reads every indexed receipt, oldest first.
func (w *world) rows() []*ent.Receipt {
	w.t.Helper()
	rs, err := w.db.Client.Receipt.Query().Order(ent.Asc("receive_time"), ent.Asc("id")).All(viewer.System(context.Background()))
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

// waitRows polls until n receipts are indexed.
func (w *world) waitRows(n int) []*ent.Receipt {
	w.t.Helper()
	var rs []*ent.Receipt
	waitFor(w.t, func() bool { rs = w.rows(); return len(rs) == n }, func() string {
		return fmt.Sprintf("receipts indexed: %d, want %d", len(rs), n)
	})
	return rs
}

// waitSettled polls until the indexer's consumer has every message of the
// stream delivered and settled.
func (w *world) waitSettled() {
	w.t.Helper()
	var info *jetstream.ConsumerInfo
	waitFor(w.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := w.js.Consumer(ctx, backbone.ReceiptsStream, receipts.ConsumerName)
		if err != nil {
			return false
		}
		info, err = c.Info(ctx)
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

// newReceipt is a receipt of a tenant's source received at t.
func newReceipt(tenant, source uuid.UUID, t time.Time) *plugsv1.Receipt {
	return &plugsv1.Receipt{
		Id:            uuid.Must(uuid.NewV7()).String(),
		TenantId:      tenant.String(),
		SourceId:      source.String(),
		ReceiveTime:   timestamppb.New(t),
		RemoteAddress: "203.0.113.7:41000",
		Method:        "POST",
		RequestUri:    "/v1/ingest/webhook/" + source.String() + "?x=1",
		Headers: []*plugsv1.ReceiptHeader{
			{Name: "Content-Type", Values: []string{"application/json"}},
			{Name: "Stripe-Signature", Values: []string{"t=1,v1=abc"}},
			{Name: "Authorization", Values: []string{"[redacted]"}},
		},
		Body:            []byte(`{"id":"evt_1","type":"invoice.paid"}`),
		Outcome:         plugsv1.Receipt_OUTCOME_ACCEPTED,
		EventType:       "invoice.paid",
		ProviderEventId: "evt_1",
		UsageEventId:    "ue_1",
		Latency:         durationpb.New(12 * time.Millisecond),
		DataPlane:       "dp-1",
		StatusCode:      200,
	}
}
