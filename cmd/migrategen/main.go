// Command migrategen writes a new versioned migration for each dialect from
// the difference between the ent schema and the migrations already
// committed. It replays the existing migrations on a scratch database of each
// dialect (an in-memory SQLite; the PostgreSQL server of
// PLUGS_TEST_DATABASE_URL, where it creates and drops a scratch database),
// then diffs.
//
//	go run ./cmd/migrategen -name add_things
//
// With -rehash it writes each dialect's atlas.sum again from the migration
// files as they are, for after a merge brought migrations from two
// branches together (check then that the schema test still plans nothing).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	entmigrate "github.com/plugshq/plugs/ent/migrate"
)

func main() {
	name := flag.String("name", "", "migration name, for example add_receipts")
	dir := flag.String("dir", "controlplane/store/migrations", "migration root directory")
	rehash := flag.Bool("rehash", false, "only write each dialect's atlas.sum again from its files")
	flag.Parse()
	if *rehash {
		for _, d := range []string{"sqlite", "postgres"} {
			if err := writeSum(filepath.Join(*dir, d)); err != nil {
				log.Fatalf("migrategen: %s: %v", d, err)
			}
		}
		return
	}
	if *name == "" {
		log.Fatal("migrategen: -name is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := diff(ctx, dialect.SQLite, "sqlite", "file:migrategen?mode=memory&cache=shared&_pragma=foreign_keys(1)", filepath.Join(*dir, "sqlite"), *name); err != nil {
		log.Fatalf("migrategen: sqlite: %v", err)
	}
	pgURL := os.Getenv("PLUGS_TEST_DATABASE_URL")
	if pgURL == "" {
		log.Fatal("migrategen: PLUGS_TEST_DATABASE_URL is not set; start a scratch PostgreSQL with .ci/pg-start")
	}
	scratch := fmt.Sprintf("migrategen_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		log.Fatalf("migrategen: postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		log.Fatalf("migrategen: postgres: %v", err)
	}
	defer admin.ExecContext(context.Background(), "DROP DATABASE "+scratch+" WITH (FORCE)") //nolint:errcheck
	u, err := url.Parse(pgURL)
	if err != nil {
		log.Fatalf("migrategen: postgres: %v", err)
	}
	u.Path = "/" + scratch
	if err := diff(ctx, dialect.Postgres, "pgx", u.String(), filepath.Join(*dir, "postgres"), *name); err != nil {
		log.Fatalf("migrategen: postgres: %v", err)
	}
}

func diff(ctx context.Context, dia, driver, dsn, dirPath, name string) error {
	if err := os.MkdirAll(dirPath, 0o755); err != nil {
		return err
	}
	dir, err := migrate.NewLocalDir(dirPath)
	if err != nil {
		return err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	m := entmigrate.NewSchema(entsql.OpenDB(dia, db))
	return m.NamedDiff(ctx, name,
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dia),
		schema.WithFormatter(migrate.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
}

// writeSum writes the atlas.sum of a migration directory from its files.
func writeSum(dirPath string) error {
	dir, err := migrate.NewLocalDir(dirPath)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return migrate.WriteSumFile(dir, sum)
}
