package store

import (
	"context"
	"testing"

	"entgo.io/ent/dialect"
)

// Upgrading gives the revision log's rows that secrets wrote without a
// tenant the tenant of their source, so a tenant's newest change is known.
func TestMigrationGivesSecretChangesTheirTenant(t *testing.T) {
	ctx := context.Background()
	db, conn := sqliteMigratedUpTo(t, "config_changes_by_tenant")
	defer db.Close()
	const (
		nilID  = "00000000-0000-0000-0000-000000000000"
		tenant = "01a2492b-0000-7000-8000-000000000001"
		src    = "01a2492b-0000-7000-8000-000000000002"
		gone   = "01a2492b-0000-7000-8000-000000000003"
	)
	for _, q := range []string{
		`INSERT INTO tenants (id, create_time, update_time, name) VALUES ('` + tenant + `', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 't')`,
		`INSERT INTO sources (id, create_time, update_time, tenant_id, display_name, template_id, max_body_bytes, dedup_window_seconds)
		 VALUES ('` + src + `', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '` + tenant + `', 'src', 'stripe', 1024, 3600)`,
		`INSERT INTO config_changes (id, tenant_id, kind, source_id, op, create_time) VALUES
		 (1, '` + tenant + `', 'source', '` + src + `', 'upsert', CURRENT_TIMESTAMP),
		 (2, '` + nilID + `', 'source', '` + src + `', 'upsert', CURRENT_TIMESTAMP),
		 (3, '` + nilID + `', 'source', '` + gone + `', 'upsert', CURRENT_TIMESTAMP)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	if err := Migrate(ctx, db, dialect.SQLite); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int]string{1: tenant, 2: tenant, 3: nilID} {
		var got string
		if err := db.QueryRowContext(ctx, "SELECT tenant_id FROM config_changes WHERE id = ?", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("change %d of tenant %s after migrating, want %s", id, got, want)
		}
	}
}
