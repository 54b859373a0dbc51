package store

import (
	"context"
	"database/sql"
	"fmt"
)

// MigrateBefore applies the migrations older than the one described desc,
// as a database last migrated by an older release has them.
func MigrateBefore(ctx context.Context, db *sql.DB, dia, desc string) error {
	dir, err := MigrationDir(dia)
	if err != nil {
		return err
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, createVersionTable); err != nil {
		return err
	}
	for _, f := range files {
		if f.Desc() == desc {
			return nil
		}
		if err := applyFile(ctx, conn, dia, f); err != nil {
			return err
		}
	}
	return fmt.Errorf("no migration %q", desc)
}
