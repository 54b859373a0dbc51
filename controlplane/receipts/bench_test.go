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
				benchInsert(b, dialect, batch, 1, 0)
			})
		}
		// Receipts spread round-robin over 10,000 sources, into a table
		// already holding 50,000: each row lands in another leaf of the
		// per-source indexes.
		b.Run(fmt.Sprintf("%s/batch=%d/sources=10000", dialect, streamindex.DefaultBatchSize), func(b *testing.B) {
			benchInsert(b, dialect, streamindex.DefaultBatchSize, 10_000, 50_000)
		})
	}
}

func benchInsert(b *testing.B, dialect string, batch, sources, prefill int) {
	db := storetest.Open(b, dialect)
	ctx := context.Background()
	tenant := uuid.New()
	srcs := make([]uuid.UUID, sources)
	for i := range srcs {
		srcs[i] = uuid.New()
	}
	body := bytes.Repeat([]byte(`{"k":"v"},`), 205)
	start := time.Now().UTC()
	rowsOf := func(n, from int) []receipts.Row {
		rows := make([]receipts.Row, n)
		for i := range rows {
			r := newReceipt(tenant, srcs[(from+i)%sources], start.Add(time.Duration(from+i)*time.Millisecond))
			r.Body = body
			r.BodySize = int64(len(body))
			r.Headers = append(r.Headers, &plugsv1.ReceiptHeader{Name: "User-Agent", Values: []string{"Stripe/1.0 (+https://stripe.com/docs/webhooks)"}})
			data, err := proto.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			if rows[i], err = receipts.Decode(backbone.ReceiptSubject(r.GetTenantId(), r.GetSourceId()), data, start); err != nil {
				b.Fatal(err)
			}
		}
		return rows
	}
	insert := func(rows []receipts.Row) {
		for i := 0; i < len(rows); i += batch {
			if err := receipts.Insert(ctx, db, rows[i:min(i+batch, len(rows))]...); err != nil {
				b.Fatal(err)
			}
		}
	}
	insert(rowsOf(prefill, 0))
	rows := rowsOf(b.N, prefill)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := storetest.CPUTime()
	insert(rows)
	storetest.ReportCPU(b, cpu, len(rows))
}
