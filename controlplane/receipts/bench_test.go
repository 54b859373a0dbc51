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
				db := storetest.Open(b, dialect)
				ctx := context.Background()
				tenant, source := uuid.New(), uuid.New()
				body := bytes.Repeat([]byte(`{"k":"v"},`), 205)
				rows := make([]receipts.Row, b.N)
				start := time.Now().UTC()
				for i := range rows {
					r := newReceipt(tenant, source, start.Add(time.Duration(i)*time.Millisecond))
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
				b.ReportAllocs()
				b.ResetTimer()
				cpu := storetest.CPUTime()
				for i := 0; i < len(rows); i += batch {
					chunk := rows[i:min(i+batch, len(rows))]
					if err := receipts.Insert(ctx, db, chunk...); err != nil {
						b.Fatal(err)
					}
				}
				storetest.ReportCPU(b, cpu, len(rows))
			})
		}
	}
}
