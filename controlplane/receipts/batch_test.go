package receipts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	dpreceipts "github.com/plugshq/plugs/dataplane/receipts"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// streamMsgs is how many messages a stream holds.
func (w *world) streamMsgs(stream string) uint64 {
	w.t.Helper()
	s, err := w.js.Stream(context.Background(), stream)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return info.State.Msgs
}

// A burst of receipts of three sources, recorded as a data plane records
// them, is stored in fewer messages than receipts (several sources to a
// message, on the tenant's batch subject) and indexed a row each, under
// its own source, among single
// receipts published as before batches; a receipt carried again by
// another batch, or by a batch published again, is still one row.
func TestIndexesBatches(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		rec := dpreceipts.New(w.js, 0, nil)
		tenant := uuid.New()
		sources := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		want := map[string]bool{}
		source := map[string]uuid.UUID{}
		for i := range 600 {
			r := newReceipt(tenant, sources[i%3], time.Now())
			want[r.GetId()] = true
			source[r.GetId()] = sources[i%3]
			if !rec.Record(r) {
				t.Fatal("receipt dropped")
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go rec.Run(ctx)
		cancel()
		<-rec.Done()
		if rec.Published() != 600 {
			t.Fatalf("published %d of 600", rec.Published())
		}
		if n := w.streamMsgs(backbone.ReceiptsStream); n >= 600 {
			t.Fatalf("600 receipts in %d messages", n)
		}
		// Single receipts, as stored before batches.
		old := newReceipt(tenant, sources[0], time.Now())
		w.publish(old)
		want[old.GetId()] = true
		// Overlapping batches, one of them published twice.
		a, b, c := newReceipt(tenant, sources[1], time.Now()), newReceipt(tenant, sources[1], time.Now()), newReceipt(tenant, sources[1], time.Now())
		for _, batch := range [][]*plugsv1.Receipt{{a, b}, {a, b}, {b, c}} {
			if err := dpreceipts.PublishBatch(context.Background(), w.js, batch); err != nil {
				t.Fatal(err)
			}
		}
		want[a.GetId()], want[b.GetId()], want[c.GetId()] = true, true, true

		w.start(w.indexer())
		rows := w.waitRows(len(want))
		w.waitSettled()
		for _, r := range rows {
			if !want[r.ID.String()] {
				t.Fatalf("row %s not published", r.ID)
			}
			if s, ok := source[r.ID.String()]; ok && r.SourceID != s {
				t.Fatalf("row %s of source %s, published for %s", r.ID, r.SourceID, s)
			}
			delete(want, r.ID.String())
		}
		if len(want) != 0 || len(w.rows()) != len(rows) {
			t.Fatalf("%d receipts not indexed", len(want))
		}
	})
}

// A batch that does not decode, or holds one receipt filed under another
// tenant's subject (a source's, or the tenant's batch subject), is
// terminated whole; its neighbours are indexed.
func TestMalformedBatchesAreTerminated(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	tenant, src := uuid.New(), uuid.New()
	subject := backbone.ReceiptSubject(tenant.String(), src.String())
	publishOn := func(subject string, data []byte) {
		m := nats.NewMsg(subject)
		m.Data = data
		m.Header.Set(backbone.BatchHeader, "2")
		if _, err := w.js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	publishBatch := func(data []byte) { publishOn(subject, data) }
	publishBatch([]byte{0xff, 0xff, 0xff})
	mixed, err := proto.Marshal(&plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{
		newReceipt(tenant, src, time.Now()), newReceipt(uuid.New(), src, time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	publishBatch(mixed)
	otherTenant, err := proto.Marshal(&plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{
		newReceipt(tenant, src, time.Now()), newReceipt(uuid.New(), uuid.New(), time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	publishOn(backbone.ReceiptBatchSubject(tenant.String()), otherTenant)
	empty, _ := proto.Marshal(&plugsv1.ReceiptBatch{})
	publishBatch(empty)
	good := []*plugsv1.Receipt{newReceipt(tenant, src, time.Now()), newReceipt(tenant, src, time.Now())}
	if err := dpreceipts.PublishBatch(context.Background(), w.js, good); err != nil {
		t.Fatal(err)
	}
	w.start(w.indexer())
	w.waitRows(2)
	w.waitSettled()
	if n := strings.Count(w.logs.String(), "receipt cannot be indexed; dropped"); n != 4 {
		t.Fatalf("%d malformed messages logged, want 4:\n%s", n, w.logs)
	}
}

// A message carrying more rows than one insert takes is stored in several
// inserts and acked once, after the last.
func TestBatchLargerThanAnInsert(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	tenant, src := uuid.New(), uuid.New()
	var batch []*plugsv1.Receipt
	for range 250 {
		batch = append(batch, newReceipt(tenant, src, time.Now()))
	}
	if err := dpreceipts.PublishBatch(context.Background(), w.js, batch); err != nil {
		t.Fatal(err)
	}
	w.start(w.indexer()) // 100 rows an insert
	w.waitRows(250)
	w.waitSettled()
}
