package streamindex

import (
	"fmt"

	"entgo.io/ent/dialect"
)

// numbered says whether a database of dialect (store.DB's) takes numbered
// parameters ($1, PostgreSQL) rather than anonymous ones (?, SQLite).
// SQLite reads $1 too, but looks each numbered parameter up among those
// before it while parsing: for a statement of a few thousand values that
// costs more than the insert. Any other dialect, an empty one included, is
// an error rather than a guess: the wrong style is a statement PostgreSQL
// refuses, or one SQLite takes longer to parse than to run.
func numbered(d string) (bool, error) {
	switch d {
	case dialect.Postgres:
		return true, nil
	case dialect.SQLite:
		return false, nil
	}
	return false, fmt.Errorf("streamindex: dialect %q: %w", d, ErrUnknownDialect)
}
