// Package store opens the control plane's database (SQLite by default,
// PostgreSQL in production), applies the versioned migrations and installs
// the hooks every client needs.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/plugshq/plugs/ent"
	_ "github.com/plugshq/plugs/ent/runtime" // privacy policies and hooks of the schema
)

// DB is an open database with its ent client.
type DB struct {
	Client  *ent.Client
	Dialect string
	SQL     *sql.DB
	// Revisions fires after every committed configuration change made
	// through this process; Watch makes it fire for changes made by other
	// processes too.
	Revisions *Revisions
	url       string
}

// Close closes the client and the pool.
func (db *DB) Close() error { return db.Client.Close() }

// SQLitePath is where the SQLite database lives under a data directory.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "plugs.db") }

// SQLiteURL returns the URL of a SQLite file with the pragmas Plugs needs:
// foreign keys on, WAL so readers do not block the writer, and a busy timeout
// so concurrent writers queue instead of failing. Temporary files, such as
// the statement journal a multi-row insert of receipts outgrows memory with,
// stay in memory: on disk each was created, written and removed per batch.
//
// The WAL is checkpointed every 16,000 pages (64 MiB at 4 KiB pages) rather
// than SQLite's 1,000: the receipts index rewrites the same index leaves in
// commit after commit, and a checkpoint copies each page once however many
// frames it has, so fewer checkpoints copy less (BenchmarkInsert: 0.8× the
// CPU per receipt spread over 10,000 sources, about 0.95× for one). The file
// is cut back to 64 MiB after a checkpoint that a long reader let grow it.
func SQLiteURL(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "wal_autocheckpoint(16000)")
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open connects to databaseURL, or to a SQLite file under dataDir when it is
// empty, and brings the schema up to date.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	db, err := Connect(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db.SQL, db.Dialect); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Connect opens the database without migrating it.
func Connect(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	var (
		driverName, dsn, dia string
	)
	switch {
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: data dir: %w", err)
		}
		driverName, dsn, dia = "sqlite", SQLiteURL(SQLitePath(dataDir)), dialect.SQLite
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		driverName, dsn, dia = "pgx", databaseURL, dialect.Postgres
	case strings.HasPrefix(databaseURL, "sqlite://"):
		driverName, dsn, dia = "sqlite", SQLiteURL(strings.TrimPrefix(databaseURL, "sqlite://")), dialect.SQLite
	default:
		return nil, fmt.Errorf("%w: want postgres://… or sqlite://PATH", ErrUnsupportedDatabase)
	}
	sqlDB, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if dia == dialect.SQLite {
		// WAL lets readers run beside the one writer; transactions begin
		// IMMEDIATE so writers queue on the busy timeout instead of failing
		// when a read transaction tries to upgrade.
		sqlDB.SetMaxOpenConns(4)
		sqlDB.SetMaxIdleConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
	}
	// database/sql keeps two idle connections unless told otherwise: under
	// load, the indexers, the API and the configuration cache then close
	// and open connections continually, and each SQLite open reads the
	// schema again (each PostgreSQL one authenticates again).
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: connect: %w", redact(err, databaseURL))
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dia, sqlDB)))
	revs := NewRevisions()
	installRevisionHooks(client, revs, dia)
	return &DB{Client: client, Dialect: dia, SQL: sqlDB, Revisions: revs, url: dsn}, nil
}

// redact keeps a database password out of an error message.
func redact(err error, databaseURL string) error {
	u, perr := url.Parse(databaseURL)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}
