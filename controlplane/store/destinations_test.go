package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/configchange"
	"github.com/plugshq/plugs/ent/viewer"
)

// commitAsSystem runs fn in a committed transaction of the system viewer.
func commitAsSystem(t *testing.T, db *store.DB, fn func(ctx context.Context, tx *ent.Tx)) {
	t.Helper()
	sys := viewer.System(context.Background())
	tx, err := db.Client.Tx(sys)
	if err != nil {
		t.Fatal(err)
	}
	fn(sys, tx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func newestChange(t *testing.T, db *store.DB) *ent.ConfigChange {
	t.Helper()
	sys := viewer.System(context.Background())
	cc, err := db.Client.ConfigChange.Query().Order(ent.Desc(configchange.FieldID)).First(sys)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func TestDestinationChangesAppendRevisions(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDestinationChanges(t, d) })
	}
}

func testDestinationChanges(t *testing.T, dialect string) {
	sys := viewer.System(context.Background())
	db := storetest.Open(t, dialect)
	tenant := db.Client.Tenant.Create().SetName("t").SaveX(sys)
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)

	newDest := func(c *ent.Client, id uuid.UUID) *ent.DestinationCreate {
		keyID, sealed, err := kr.Seal([]byte("shared-key-0123456789"), secrets.DestinationBinding(tenant.ID.String(), id.String()))
		if err != nil {
			t.Fatal(err)
		}
		return c.Destination.Create().SetID(id).SetTenantID(tenant.ID).SetDisplayName("d").
			SetURL("https://billing.example.com/hook").SetKeyID(keyID).SetSharedKeyCiphertext(sealed).
			SetSharedKeyFingerprint(secrets.Fingerprint([]byte("shared-key-0123456789"))).
			SetTimeoutMs(10_000).SetMaxConcurrency(10)
	}

	if _, err := newDest(db.Client, mustV7()).Save(sys); !errors.Is(err, store.ErrNotInTransaction) {
		t.Fatalf("a destination created outside a transaction: %v, want ErrNotInTransaction", err)
	}

	// A source change first, to tell the two kinds apart in the log.
	var src *ent.Source
	commitAsSystem(t, db, func(ctx context.Context, tx *ent.Tx) {
		src = tx.Source.Create().SetTenantID(tenant.ID).SetDisplayName("s").SetTemplateID("custom").
			SetMaxBodyBytes(1).SetDedupWindowSeconds(60).SaveX(ctx)
	})
	srcRow := newestChange(t, db)
	if srcRow.Kind != configchange.KindSource || srcRow.SourceID != src.ID || srcRow.DestinationID != uuid.Nil {
		t.Fatalf("source change logged as %+v", srcRow)
	}

	changed := db.Revisions.Changed()
	id := mustV7()
	commitAsSystem(t, db, func(ctx context.Context, tx *ent.Tx) { newDest(tx.Client(), id).SaveX(ctx) })
	<-changed
	created := newestChange(t, db)
	if created.ID <= srcRow.ID || created.Kind != configchange.KindDestination || created.DestinationID != id ||
		created.SourceID != uuid.Nil || created.Op != configchange.OpUpsert || created.TenantID != tenant.ID {
		t.Fatalf("destination create logged as %+v", created)
	}
	rev, err := store.Current(sys, db.Client)
	if err != nil || rev != created.ID {
		t.Fatalf("current revision %d %v, want %d", rev, err, created.ID)
	}
	dest := db.Client.Destination.GetX(sys, id)
	if dest.Revision != created.ID {
		t.Fatalf("destination revision %d, want %d", dest.Revision, created.ID)
	}
	// The key opens under the destination's binding only.
	if plain, err := kr.Open(dest.KeyID, dest.SharedKeyCiphertext, secrets.DestinationBinding(tenant.ID.String(), id.String())); err != nil ||
		string(plain) != "shared-key-0123456789" {
		t.Fatalf("open shared key: %q %v", plain, err)
	}
	legacy := secrets.Binding{TenantID: tenant.ID.String(), SourceID: id.String(), SecretID: id.String()}
	if _, err := kr.Open(dest.KeyID, dest.SharedKeyCiphertext, legacy); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("a destination key opened as a source secret: %v", err)
	}

	commitAsSystem(t, db, func(ctx context.Context, tx *ent.Tx) {
		tx.Destination.UpdateOneID(id).SetDisplayName("renamed").ExecX(ctx)
	})
	updated := newestChange(t, db)
	if updated.ID <= created.ID || updated.Kind != configchange.KindDestination || updated.DestinationID != id || updated.Op != configchange.OpUpsert {
		t.Fatalf("destination update logged as %+v", updated)
	}
	if got := db.Client.Destination.GetX(sys, id).Revision; got != updated.ID {
		t.Fatalf("destination revision %d after update, want %d", got, updated.ID)
	}

	commitAsSystem(t, db, func(ctx context.Context, tx *ent.Tx) { tx.Destination.DeleteOneID(id).ExecX(ctx) })
	deleted := newestChange(t, db)
	if deleted.ID <= updated.ID || deleted.Kind != configchange.KindDestination || deleted.DestinationID != id || deleted.Op != configchange.OpDelete {
		t.Fatalf("destination delete logged as %+v", deleted)
	}
	// Source rows stay source rows.
	n := db.Client.ConfigChange.Query().Where(configchange.KindEQ(configchange.KindSource)).CountX(sys)
	if n != 1 {
		t.Fatalf("%d source changes, want 1", n)
	}
}
