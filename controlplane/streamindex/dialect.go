package streamindex

import (
	"context"
	"fmt"
	"sync"

	"github.com/plugshq/plugs/ent"
)

// placeholders says, for each client InsertNew has seen, whether its
// database takes numbered parameters ($1, PostgreSQL) rather than
// anonymous ones (?, SQLite). SQLite reads $1 too, but looks each numbered
// parameter up among those before it while parsing: for a statement of a
// few thousand values that costs more than the insert.
var placeholders sync.Map // *ent.Client → bool

// numbered says whether c's database takes numbered parameters, asking it
// once: only SQLite has sqlite_version(), and PostgreSQL has version().
func numbered(ctx context.Context, c *ent.Client) (bool, error) {
	if v, ok := placeholders.Load(c); ok {
		return v.(bool), nil
	}
	probe := func(q string) bool {
		rows, err := c.QueryContext(ctx, q)
		if err != nil {
			return false
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err() == nil
	}
	var num bool
	switch {
	case probe("SELECT sqlite_version()"):
		num = false
	case probe("SELECT version()"):
		num = true
	default:
		return false, fmt.Errorf("streamindex: %w", ErrUnknownDatabase)
	}
	placeholders.Store(c, num)
	return num, nil
}
