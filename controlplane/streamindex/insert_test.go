package streamindex_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/migrate"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
)

// nullSource is a receipt's mutation that reports NULL for its NOT NULL
// source_id, as no setter can.
type nullSource struct{ *ent.ReceiptMutation }

func (m nullSource) Field(name string) (ent.Value, bool) {
	if name == receipt.FieldSourceID {
		return nil, true
	}
	return m.ReceiptMutation.Field(name)
}

// TestInsertRefusesNullInRequiredColumn: a row with NULL in a NOT NULL
// column fails the insert on every dialect, rather than being skipped as
// a duplicate (SQLite's INSERT OR IGNORE would skip it), and a duplicate
// id is still skipped without error.
func TestInsertRefusesNullInRequiredColumn(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			db := storetest.Open(t, dialect)
			ctx := context.Background()
			tenant, source, id := uuid.New(), uuid.New(), uuid.New()
			build := func(null bool) func(*ent.Client, uuid.UUID) ent.Mutation {
				return func(c *ent.Client, id uuid.UUID) ent.Mutation {
					m := c.Receipt.Create().SetTenantID(tenant).SetSourceID(source).
						SetReceiveTime(time.Now().UTC()).SetOutcome(receipt.OutcomeAccepted).Mutation()
					if null {
						return nullSource{m}
					}
					return m
				}
			}
			key := func(id uuid.UUID) uuid.UUID { return id }
			var saved int
			save := func(_ context.Context, _ *ent.Client, rows []uuid.UUID) error { saved += len(rows); return nil }
			err := streamindex.InsertNew(ctx, db, migrate.ReceiptsTable, []uuid.UUID{id}, key, build(true), save)
			if !errors.Is(err, streamindex.ErrUnsetColumn) {
				t.Fatalf("NULL source_id: %v, want ErrUnsetColumn", err)
			}
			for range 2 {
				if err := streamindex.InsertNew(ctx, db, migrate.ReceiptsTable, []uuid.UUID{id}, key, build(false), save); err != nil {
					t.Fatal(err)
				}
			}
			n, err := db.Client.Receipt.Query().Count(viewer.System(ctx))
			if err != nil || n != 1 || saved != 1 {
				t.Fatalf("%d rows stored (%v), %d saved; want 1 and 1", n, err, saved)
			}
		})
	}
}
