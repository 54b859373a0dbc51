package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"
)

// A migration that rebuilds a table (as SQLite migrations change columns)
// must not delete the rows of tables referring to it ON DELETE CASCADE:
// upgrading past the one that added sources' rate limits kept every
// source's secrets only because the check is off around the migration.
func TestSQLiteMigrationKeepsReferringRows(t *testing.T) {
	ctx := context.Background()
	// Up to the migration before the rebuild of sources.
	db, conn := sqliteMigratedUpTo(t, "source_rate_limit")
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO tenants (id, create_time, update_time, name) VALUES ('t1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't')`,
		`INSERT INTO sources (id, create_time, update_time, tenant_id, display_name, template_id, max_body_bytes, dedup_window_seconds)
		 VALUES ('s1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't1', 'src', 'stripe', 1024, 3600)`,
		`INSERT INTO secrets (id, create_time, update_time, tenant_id, source_id, ciphertext, key_id, fingerprint)
		 VALUES ('k1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't1', 's1', x'00', 'key', 'sha256:0')`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	if err := Migrate(ctx, db, dialect.SQLite); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM secrets WHERE source_id = 's1'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d secrets left after migrating; the rebuild of sources deleted them", n)
	}
	var fk int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign keys %d after migrating (%v), want back on", fk, err)
	}
}

// sqliteMigratedUpTo opens a new SQLite database with the migrations before
// the one described desc applied, and a connection to it to add rows with
// before Migrate applies the rest. The caller closes both.
func sqliteMigratedUpTo(t *testing.T, desc string) (*sql.DB, *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", SQLiteURL(filepath.Join(t.TempDir(), "plugs.db")))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := MigrationDir(dialect.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, createVersionTable); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(files) && files[i].Desc() != desc; i++ {
		if err := applyFile(ctx, conn, dialect.SQLite, files[i]); err != nil {
			t.Fatal(err)
		}
	}
	return db, conn
}
