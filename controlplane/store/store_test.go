package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"ariga.io/atlas/sql/migrate"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	entmigrate "github.com/plugshq/plugs/ent/migrate"
	"github.com/plugshq/plugs/ent/viewer"
)

func TestMigrationsApplyOnEmptyDatabase(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			dbURL, dir := storetest.URL(t, d)
			db, err := store.Open(ctx, dbURL, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// Applying again is a no-op.
			if err := store.Migrate(ctx, db.SQL, db.Dialect); err != nil {
				t.Fatalf("second migrate: %v", err)
			}
			var n int
			if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM plugs_schema_migrations").Scan(&n); err != nil {
				t.Fatal(err)
			}
			mdir, _ := store.MigrationDir(db.Dialect)
			files, _ := mdir.Files()
			if n != len(files) {
				t.Fatalf("applied %d migrations, want %d", n, len(files))
			}
			// The migrated schema is exactly the ent schema: a diff
			// against it plans nothing.
			out := t.TempDir()
			ld, err := migrate.NewLocalDir(out)
			if err != nil {
				t.Fatal(err)
			}
			err = entmigrate.NewSchema(entsql.OpenDB(db.Dialect, db.SQL)).Diff(ctx,
				schema.WithDir(ld), schema.WithMigrationMode(schema.ModeInspect), schema.WithDialect(db.Dialect),
				schema.WithDropColumn(true), schema.WithDropIndex(true))
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if filepath.Ext(e.Name()) == ".sql" {
					b, _ := os.ReadFile(filepath.Join(out, e.Name()))
					t.Fatalf("schema and migrations differ; run make migration:\n%s", b)
				}
			}
		})
	}
}

func TestResealSecretsUnderNewKey(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d)
			k1, _ := secrets.GenerateKey()
			kr1, _ := secrets.NewKeyring(k1)
			sys := viewer.System(ctx)
			tenant := db.Client.Tenant.Create().SetName("t").SaveX(sys)
			var secretRow *ent.Secret
			tx, err := db.Client.Tx(sys)
			if err != nil {
				t.Fatal(err)
			}
			src := tx.Source.Create().SetTenantID(tenant.ID).SetDisplayName("s").SetTemplateID("custom").
				SetMaxBodyBytes(1).SetDedupWindowSeconds(60).SaveX(sys)
			id := mustV7()
			b := secrets.Binding{TenantID: tenant.ID.String(), SourceID: src.ID.String(), SecretID: id.String()}
			keyID, sealed, _ := kr1.Seal([]byte("the-plain-secret-value"), b)
			secretRow = tx.Secret.Create().SetID(id).SetTenantID(tenant.ID).SetSourceID(src.ID).
				SetKeyID(keyID).SetCiphertext(sealed).SetFingerprint("f").SaveX(sys)
			destID := mustV7()
			db2 := secrets.DestinationBinding(tenant.ID.String(), destID.String())
			dKeyID, dSealed, _ := kr1.Seal([]byte("the-destination-key"), db2)
			tx.Destination.Create().SetID(destID).SetTenantID(tenant.ID).SetDisplayName("d").SetURL("https://x.example").
				SetKeyID(dKeyID).SetSharedKeyCiphertext(dSealed).SetSharedKeyFingerprint("f").SetTimeoutMs(10000).SetMaxConcurrency(10).SaveX(sys)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			k2, _ := secrets.GenerateKey()
			kr2, _ := secrets.NewKeyring(k1, k2)
			n, err := store.ResealSecrets(ctx, db.Client, kr2)
			if err != nil || n != 2 {
				t.Fatalf("reseal: n=%d err=%v", n, err)
			}
			got := db.Client.Secret.GetX(sys, secretRow.ID)
			if got.KeyID != k2.ID {
				t.Fatalf("key id %s, want %s", got.KeyID, k2.ID)
			}
			// Only the new key is needed from now on.
			kr3, _ := secrets.NewKeyring(k2)
			plain, err := kr3.Open(got.KeyID, got.Ciphertext, b)
			if err != nil || string(plain) != "the-plain-secret-value" {
				t.Fatalf("open after reseal: %q %v", plain, err)
			}
			dest := db.Client.Destination.GetX(sys, destID)
			if plain, err := kr3.Open(dest.KeyID, dest.SharedKeyCiphertext, db2); err != nil || string(plain) != "the-destination-key" {
				t.Fatalf("destination key after reseal: %q %v", plain, err)
			}
			if n, _ := store.ResealSecrets(ctx, db.Client, kr2); n != 0 {
				t.Fatalf("second reseal moved %d", n)
			}
		})
	}
}

func TestConfigChangesNeedTransactionAndBumpRevision(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	sys := viewer.System(ctx)
	tenant := db.Client.Tenant.Create().SetName("t").SaveX(sys)
	_, err := db.Client.Source.Create().SetTenantID(tenant.ID).SetDisplayName("s").SetTemplateID("custom").
		SetMaxBodyBytes(1).SetDedupWindowSeconds(60).Save(sys)
	if err == nil {
		t.Fatal("a source created outside a transaction must fail")
	}
	changed := db.Revisions.Changed()
	tx, _ := db.Client.Tx(sys)
	src := tx.Source.Create().SetTenantID(tenant.ID).SetDisplayName("s").SetTemplateID("custom").
		SetMaxBodyBytes(1).SetDedupWindowSeconds(60).SaveX(sys)
	select {
	case <-changed:
		t.Fatal("fired before commit")
	default:
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	<-changed
	rev, err := store.Current(sys, db.Client)
	if err != nil || rev == 0 {
		t.Fatalf("revision %d %v", rev, err)
	}
	if got := db.Client.Source.GetX(sys, src.ID).Revision; got != rev {
		t.Fatalf("source revision %d, want %d", got, rev)
	}
}
