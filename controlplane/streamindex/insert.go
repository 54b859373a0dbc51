package streamindex

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
)

// maxInsertArgs bounds the values of one INSERT statement, under SQLite's
// limit of 32,766 bound variables (PostgreSQL allows 65,535).
const maxInsertArgs = 30000

// InsertNew stores the rows of a batch that are not stored yet, in one
// transaction of db as the system viewer; db's Dialect says how the
// statements number their parameters, and one that is neither SQLite nor
// PostgreSQL is ErrUnknownDialect. mutation builds a row's create
// mutation (the ent create builder's), whose fields are the columns of
// table; the rows are written with multi-row INSERT ... ON CONFLICT (id)
// DO NOTHING RETURNING id statements, and save is handed the rows the
// database reports it stored now (each once, in batch order) to keep
// whatever goes alongside them, such as a rollup of their counts, through
// the transaction's client. A row indexed twice is then saved once, and
// what is kept alongside never counts it twice, even when two replicas
// store the same row at once: the database reports it stored to one.
//
// The statements bypass ent's create path, so what its hooks and privacy
// rules would enforce is checked here: every row names its tenant (the
// system viewer may create rows of any tenant, never of none).
func InsertNew[R any](ctx context.Context, db *store.DB, table *schema.Table, rows []R, key func(R) uuid.UUID,
	mutation func(*ent.Client, R) ent.Mutation,
	save func(context.Context, *ent.Client, []R) error,
) error {
	if len(rows) == 0 {
		return nil
	}
	num, err := numbered(db.Dialect)
	if err != nil {
		return err
	}
	ctx = viewer.System(ctx)
	// Rows carried twice in a batch are inserted once.
	seen := make(map[uuid.UUID]bool, len(rows))
	unique := make([]R, 0, len(rows))
	for _, r := range rows {
		if !seen[key(r)] {
			seen[key(r)] = true
			unique = append(unique, r)
		}
	}
	return store.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
		client := tx.Client()
		per := max(1, maxInsertArgs/len(table.Columns))
		stored := make(map[uuid.UUID]bool, len(unique))
		for i := 0; i < len(unique); i += per {
			chunk := unique[i:min(i+per, len(unique))]
			if err := insertChunk(ctx, client, table, num, chunk, key, mutation, stored); err != nil {
				return err
			}
		}
		fresh := unique[:0:0]
		for _, r := range unique {
			if stored[key(r)] {
				fresh = append(fresh, r)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return save(ctx, client, fresh)
	})
}

// tenantSetter is the part of a tenant-owned row's mutation InsertNew
// checks.
type tenantSetter interface {
	TenantID() (uuid.UUID, bool)
}

// insertChunk inserts rows with one statement and marks in stored the ids
// the database inserted now.
func insertChunk[R any](ctx context.Context, c *ent.Client, table *schema.Table, num bool, rows []R, key func(R) uuid.UUID,
	mutation func(*ent.Client, R) ent.Mutation, stored map[uuid.UUID]bool,
) error {
	cols := table.Columns
	pk := table.PrimaryKey[0].Name
	args := make([]any, 0, len(rows)*len(cols))
	for _, r := range rows {
		m := mutation(c, r)
		if ts, ok := m.(tenantSetter); ok {
			if id, set := ts.TenantID(); !set || id == uuid.Nil {
				return fmt.Errorf("streamindex: %s %s without tenant_id: %w", m.Type(), key(r), ErrNoTenant)
			}
		}
		for _, col := range cols {
			if col.Name == pk {
				args = append(args, key(r))
				continue
			}
			v, ok := m.Field(col.Name)
			switch {
			case !ok && col.Default == nil && !col.Nullable:
				// A default computed in Go (DefaultFunc) lives in ent's
				// create builder, which this statement bypasses: such a field
				// must be set by the row's mutation.
				return fmt.Errorf("streamindex: %s.%s: not set, and no default the schema states: %w", table.Name, col.Name, ErrUnsetColumn)
			case !ok:
				// What ent's create would take: the field's default, or NULL.
				v = col.Default
			case !col.Nullable && isNull(v):
				// SQLite's INSERT OR IGNORE would skip the row silently.
				return fmt.Errorf("streamindex: %s.%s: NULL in a NOT NULL column: %w", table.Name, col.Name, ErrUnsetColumn)
			case col.Type == field.TypeJSON:
				b, err := json.Marshal(v)
				if err != nil {
					return fmt.Errorf("streamindex: %s.%s: %w", table.Name, col.Name, err)
				}
				v = b
			}
			args = append(args, v)
		}
	}
	res, err := c.QueryContext(ctx, insertSQL(table, num, len(rows)), args...)
	if err != nil {
		return fmt.Errorf("streamindex: insert into %s: %w", table.Name, err)
	}
	defer res.Close()
	for res.Next() {
		var id uuid.UUID
		if err := res.Scan(&id); err != nil {
			return fmt.Errorf("streamindex: insert into %s: %w", table.Name, err)
		}
		stored[id] = true
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("streamindex: insert into %s: %w", table.Name, err)
	}
	return nil
}

// isNull reports whether v is written as NULL.
func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []byte:
		return x == nil
	}
	return false
}

// insertSQL is the statement inserting n rows of every column of table,
// skipping ids stored already and returning the ids it inserted, with
// numbered parameters ($1) or anonymous ones (?).
//
// PostgreSQL gets ON CONFLICT (id) DO NOTHING. SQLite gets INSERT OR
// IGNORE: a multi-row statement that may abort (a NOT NULL column under
// the default ABORT) makes SQLite copy every page it changes into a
// statement journal first, to undo that statement alone; with rows spread
// over thousands of sources that is most of the pages of the per-source
// indexes, and a third of the insert's CPU (BenchmarkInsert, 10,000
// sources). OR IGNORE cannot abort, so no statement journal is kept. It
// would also skip a row with NULL in a NOT NULL column instead of failing:
// insertChunk refuses such a row before the statement is sent, so what is
// skipped is only an id stored already, as on PostgreSQL. (The tables
// indexed have no CHECK or foreign-key constraints.)
func insertSQL(table *schema.Table, num bool, n int) string {
	var b strings.Builder
	if num {
		b.WriteString(`INSERT INTO "` + table.Name + `" (`)
	} else {
		b.WriteString(`INSERT OR IGNORE INTO "` + table.Name + `" (`)
	}
	for i, col := range table.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + col.Name + `"`)
	}
	b.WriteString(") VALUES ")
	arg := 1
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := range table.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			if !num {
				b.WriteByte('?')
				continue
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(arg))
			arg++
		}
		b.WriteByte(')')
	}
	pk := table.PrimaryKey[0].Name
	if num {
		b.WriteString(` ON CONFLICT ("` + pk + `") DO NOTHING`)
	}
	b.WriteString(` RETURNING "` + pk + `"`)
	return b.String()
}
