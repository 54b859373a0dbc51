package store

import "errors"

var (
	// ErrUnsupportedDatabase means a database URL names neither SQLite nor
	// PostgreSQL.
	ErrUnsupportedDatabase = errors.New("store: unsupported database URL")
	// ErrMigrationChecksum means the embedded migrations do not match their
	// atlas.sum, so a file was edited after it was generated.
	ErrMigrationChecksum = errors.New("store: migration directory checksum mismatch")
	// ErrUnknownMigration means the database holds a migration version this
	// binary does not know: it was migrated by a newer release.
	ErrUnknownMigration = errors.New("store: database has a migration this binary does not know")
	// ErrNotInTransaction means a configuration change was attempted outside
	// a transaction, where its revision could not be written atomically with
	// it.
	ErrNotInTransaction = errors.New("store: configuration changes must run in a transaction")
	// ErrForeignKey means a SQLite migration would leave a row referring to
	// a row that does not exist; it is rolled back.
	ErrForeignKey = errors.New("store: migration breaks a foreign key")
)
