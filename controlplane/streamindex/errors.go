package streamindex

import "errors"

// ErrNoTenant means a row to insert names no tenant: it would be visible
// to none, and the database is never asked to store it.
var ErrNoTenant = errors.New("streamindex: row without tenant")

// ErrUnknownDialect means the database's dialect (store.DB.Dialect) is
// neither SQLite nor PostgreSQL, or was left empty: the multi-row insert
// would not know how to number its parameters.
var ErrUnknownDialect = errors.New("database dialect is neither SQLite nor PostgreSQL")

// ErrNoDatabase means a Service was run without its DB.
var ErrNoDatabase = errors.New("streamindex: no database")

// ErrNoRows means a message decoded into no rows at all (an empty batch):
// nothing in it can be indexed, so it is terminated as malformed.
var ErrNoRows = errors.New("streamindex: message holds no rows")

// ErrUnsetColumn means a row's mutation leaves a NOT NULL column unset
// whose default ent would compute in Go: the multi-row insert cannot
// supply it, so the row is refused rather than stored with NULL.
var ErrUnsetColumn = errors.New("streamindex: required column not set")
