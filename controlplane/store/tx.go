package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/plugshq/plugs/ent"
)

// WithTx runs fn in a transaction of c, committing when it returns nil and
// rolling back otherwise. fn's error comes back unwrapped, so a gRPC status
// made inside keeps its own message; a failed rollback is joined to it.
func WithTx(ctx context.Context, c *ent.Client, fn func(*ent.Tx) error) error {
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	return tx.Commit()
}
