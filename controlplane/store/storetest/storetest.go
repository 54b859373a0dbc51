// Package storetest opens throw-away control-plane databases for tests: a
// SQLite file in the test's temporary directory, and a fresh database on the
// PostgreSQL server named by PLUGS_TEST_DATABASE_URL (which .ci/run starts).
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/plugshq/plugs/controlplane/store"
)

// Dialects lists the databases to run storage tests against: SQLite always,
// PostgreSQL when PLUGS_TEST_DATABASE_URL is set. With
// PLUGS_REQUIRE_POSTGRES=1 (as in CI) a missing URL fails the test instead of
// skipping PostgreSQL.
func Dialects(t testing.TB) []string {
	out := []string{"sqlite"}
	if os.Getenv("PLUGS_TEST_DATABASE_URL") != "" {
		out = append(out, "postgres")
	} else if os.Getenv("PLUGS_REQUIRE_POSTGRES") == "1" {
		t.Fatal("PLUGS_REQUIRE_POSTGRES=1 but PLUGS_TEST_DATABASE_URL is not set")
	} else {
		t.Log("PLUGS_TEST_DATABASE_URL not set: PostgreSQL variant skipped (.ci/run sets it)")
	}
	return out
}

// URL returns a database URL for a new, empty database of the dialect; ""
// with a data dir means SQLite under that dir.
func URL(t testing.TB, dialect string) (databaseURL, dataDir string) {
	t.Helper()
	dataDir = t.TempDir()
	if dialect == "sqlite" {
		return "", dataDir
	}
	base := os.Getenv("PLUGS_TEST_DATABASE_URL")
	name := fmt.Sprintf("plugs_t_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), dataDir
}

// Open returns a migrated database of the dialect, closed when the test ends.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	dbURL, dir := URL(t, dialect)
	db, err := store.Open(context.Background(), dbURL, dir)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
