package deliveries_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/deliveries"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/dataplane/forward"
)

// BenchmarkInsert indexes delivery attempts through Insert in batches of
// the indexer's size, on SQLite and, when PLUGS_TEST_DATABASE_URL is set,
// PostgreSQL; ns/op, cpu-ns/row (the process's CPU time, steadier on a
// shared machine) and allocs/op are per attempt.
func BenchmarkInsert(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		for _, batch := range []int{1, streamindex.DefaultBatchSize} {
			b.Run(fmt.Sprintf("%s/batch=%d", dialect, batch), func(b *testing.B) {
				db := storetest.Open(b, dialect)
				ctx := context.Background()
				tenant, dest := uuid.New(), uuid.New()
				rows := make([]deliveries.Row, b.N)
				start := time.Now().UTC()
				for i := range rows {
					a := newAttempt(tenant, dest, start.Add(time.Duration(i)*time.Millisecond))
					m := forward.AttemptProto(a, "dp-1")
					data, err := proto.Marshal(m)
					if err != nil {
						b.Fatal(err)
					}
					h := nats.Header{}
					h.Set(forward.HeaderTenantID, tenant.String())
					h.Set(forward.HeaderDeliverySeq, "42")
					if rows[i], err = deliveries.Decode(backbone.AttemptSubject(tenant.String(), dest.String()), h, data, start); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := storetest.CPUTime()
				for i := 0; i < len(rows); i += batch {
					if err := deliveries.Insert(ctx, db, rows[i:min(i+batch, len(rows))]...); err != nil {
						b.Fatal(err)
					}
				}
				storetest.ReportCPU(b, cpu, len(rows))
			})
		}
	}
}
