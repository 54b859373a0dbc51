package receipts_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"

	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// BenchmarkInsert indexes receipts with a 2 KiB body through Insert in
// batches of the indexer's size, on SQLite and, when
// PLUGS_TEST_DATABASE_URL is set, PostgreSQL; ns/op, cpu-ns/row (the
// process's CPU time, steadier on a shared machine) and allocs/op are per
// receipt.
func BenchmarkInsert(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		for _, batch := range []int{1, streamindex.DefaultBatchSize} {
			b.Run(fmt.Sprintf("%s/batch=%d", dialect, batch), func(b *testing.B) {
				ins := newInserter(b, dialect, batch, 1)
				ins.run(b)
			})
		}
		// Receipts spread round-robin over 10,000 sources, into a table
		// already holding 50,000: each row lands in another leaf of the
		// per-source indexes. The table is filled once, not for every
		// b.N tried.
		ins := newInserter(b, dialect, streamindex.DefaultBatchSize, 10_000)
		ins.insert(b, ins.rows(b, 50_000))
		b.Run(fmt.Sprintf("%s/batch=%d/sources=10000", dialect, streamindex.DefaultBatchSize), ins.run)
	}
}

// inserter indexes receipts with a 2 KiB body, spread round-robin over
// its sources, each later than the last.
type inserter struct {
	db     *store.DB
	batch  int
	tenant uuid.UUID
	srcs   []uuid.UUID
	body   []byte
	start  time.Time
	next   int
}

func newInserter(b *testing.B, dialect string, batch, sources int) *inserter {
	ins := &inserter{db: storetest.Open(b, dialect), batch: batch, tenant: uuid.New(), srcs: make([]uuid.UUID, sources),
		body: bytes.Repeat([]byte(`{"k":"v"},`), 205), start: time.Now().UTC()}
	for i := range ins.srcs {
		ins.srcs[i] = uuid.New()
	}
	return ins
}

func (ins *inserter) rows(b *testing.B, n int) []receipts.Row {
	rows := make([]receipts.Row, n)
	for i := range rows {
		at := ins.start.Add(time.Duration(ins.next) * time.Millisecond)
		r := newReceipt(ins.tenant, ins.srcs[ins.next%len(ins.srcs)], at)
		ins.next++
		r.Body = ins.body
		r.BodySize = int64(len(ins.body))
		r.Headers = append(r.Headers, &plugsv1.ReceiptHeader{Name: "User-Agent", Values: []string{"Stripe/1.0 (+https://stripe.com/docs/webhooks)"}})
		data, err := proto.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		if rows[i], err = receipts.Decode(backbone.ReceiptSubject(r.GetTenantId(), r.GetSourceId()), data, ins.start); err != nil {
			b.Fatal(err)
		}
	}
	return rows
}

func (ins *inserter) insert(b *testing.B, rows []receipts.Row) {
	for i := 0; i < len(rows); i += ins.batch {
		if err := receipts.Insert(context.Background(), ins.db, rows[i:min(i+ins.batch, len(rows))]...); err != nil {
			b.Fatal(err)
		}
	}
}

func (ins *inserter) run(b *testing.B) {
	rows := ins.rows(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := storetest.CPUTime()
	ins.insert(b, rows)
	storetest.ReportCPU(b, cpu, len(rows))
}
