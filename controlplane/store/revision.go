package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"entgo.io/ent/dialect"

	"entgo.io/ent/privacy"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/configchange"
	"github.com/plugshq/plugs/ent/destination"
	"github.com/plugshq/plugs/ent/hook"
	"github.com/plugshq/plugs/ent/secret"
	"github.com/plugshq/plugs/ent/source"
)

// Revisions tells waiters when the configuration revision moved. Every
// committed change of a source, secret or destination fires it.
type Revisions struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewRevisions returns a signal with nothing pending.
func NewRevisions() *Revisions { return &Revisions{ch: make(chan struct{})} }

// Changed returns a channel closed at the next committed change.
func (r *Revisions) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ch
}

// Fire wakes every waiter.
func (r *Revisions) Fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.ch)
	r.ch = make(chan struct{})
}

// Current returns the newest configuration revision, 0 when nothing changed
// yet.
func Current(ctx context.Context, c *ent.Client) (int64, error) {
	last, err := c.ConfigChange.Query().
		Order(ent.Desc(configchange.FieldID)).
		Limit(1).
		IDs(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil {
		return 0, fmt.Errorf("store: current revision: %w", err)
	}
	if len(last) == 0 {
		return 0, nil
	}
	return last[0], nil
}

type skipRevisionKey struct{}

// change is one row of the revision log to write. kind says whether id is a
// source's or a destination's.
type change struct {
	kind         configchange.Kind
	id, tenantID uuid.UUID
	op           configchange.Op
}

// revisionLock is the PostgreSQL advisory lock configuration writers take
// before they draw a revision. It makes revisions commit in the order they
// are drawn, so a reader that has seen revision n has seen every revision
// below it and can follow the log with "id > n". (SQLite has one writer at
// a time anyway.)
const revisionLock = 0x706c7567735f7276 // "plugs_rv"

// NotifyChannel is the PostgreSQL channel a committed configuration change
// is announced on, so every control-plane replica learns of it at once.
const NotifyChannel = "plugs_config"

// installRevisionHooks makes every mutation of a source, secret or
// destination append to the revision log and stamp the source or destination
// with the new revision, inside the mutation's transaction, and fire r after
// that transaction commits.
func installRevisionHooks(c *ent.Client, r *Revisions, dia string) {
	c.Source.Use(func(next ent.Mutator) ent.Mutator {
		return hook.SourceFunc(func(ctx context.Context, m *ent.SourceMutation) (ent.Value, error) {
			return revisioned(ctx, m, m.Tx, next, r, dia,
				func(c *ent.Client) ([]change, error) {
					return sourceChanges(ctx, c, m, m.Op().Is(ent.OpDelete|ent.OpDeleteOne))
				},
				func(v ent.Value) []change {
					s, ok := v.(*ent.Source)
					if !ok {
						return nil
					}
					return []change{{kind: configchange.KindSource, id: s.ID, tenantID: s.TenantID, op: configchange.OpUpsert}}
				})
		})
	})
	c.Destination.Use(func(next ent.Mutator) ent.Mutator {
		return hook.DestinationFunc(func(ctx context.Context, m *ent.DestinationMutation) (ent.Value, error) {
			return revisioned(ctx, m, m.Tx, next, r, dia,
				func(c *ent.Client) ([]change, error) {
					return destinationChanges(ctx, c, m, m.Op().Is(ent.OpDelete|ent.OpDeleteOne))
				},
				func(v ent.Value) []change {
					d, ok := v.(*ent.Destination)
					if !ok {
						return nil
					}
					return []change{{kind: configchange.KindDestination, id: d.ID, tenantID: d.TenantID, op: configchange.OpUpsert}}
				})
		})
	})
	c.Secret.Use(func(next ent.Mutator) ent.Mutator {
		return hook.SecretFunc(func(ctx context.Context, m *ent.SecretMutation) (ent.Value, error) {
			tx, err := m.Tx()
			if err != nil {
				return nil, ErrNotInTransaction
			}
			var changes []change
			if !m.Op().Is(ent.OpCreate) {
				ids, err := m.IDs(ctx)
				if err != nil {
					return nil, fmt.Errorf("store: secret ids: %w", err)
				}
				rows, err := tx.Secret.Query().Where(secret.IDIn(ids...)).
					Select(secret.FieldSourceID, secret.FieldTenantID).All(ctx)
				if err != nil {
					return nil, fmt.Errorf("store: secret sources: %w", err)
				}
				seen := map[uuid.UUID]bool{}
				for _, s := range rows {
					if !seen[s.SourceID] {
						seen[s.SourceID] = true
						changes = append(changes, change{kind: configchange.KindSource, id: s.SourceID, tenantID: s.TenantID, op: configchange.OpUpsert})
					}
				}
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			// A new secret's tenant is known once the tenant mixin's hook,
			// which runs inside this one, has stamped it.
			if s, ok := v.(*ent.Secret); ok && m.Op().Is(ent.OpCreate) {
				changes = []change{{kind: configchange.KindSource, id: s.SourceID, tenantID: s.TenantID, op: configchange.OpUpsert}}
			}
			if err := record(ctx, tx, r, dia, changes); err != nil {
				return nil, err
			}
			return v, nil
		})
	})
}

// revisioned runs a mutation of a source or destination and records it in
// the revision log, in the mutation's transaction. The changes of an
// update or delete are read before it runs (a delete leaves nothing to
// read after it); those of a create come from its result.
func revisioned(ctx context.Context, m ent.Mutation, tx func() (*ent.Tx, error), next ent.Mutator, r *Revisions, dia string,
	before func(*ent.Client) ([]change, error), created func(ent.Value) []change) (ent.Value, error) {
	if ctx.Value(skipRevisionKey{}) != nil {
		return next.Mutate(ctx, m)
	}
	t, err := tx()
	if err != nil {
		return nil, ErrNotInTransaction
	}
	var changes []change
	if !m.Op().Is(ent.OpCreate) {
		if changes, err = before(t.Client()); err != nil {
			return nil, err
		}
	}
	v, err := next.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if m.Op().Is(ent.OpCreate) {
		changes = created(v)
	}
	if err := record(ctx, t, r, dia, changes); err != nil {
		return nil, err
	}
	return v, nil
}

func sourceChanges(ctx context.Context, c *ent.Client, m *ent.SourceMutation, deleting bool) ([]change, error) {
	ids, err := m.IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: source ids: %w", err)
	}
	rows, err := c.Source.Query().Where(source.IDIn(ids...)).Select(source.FieldID, source.FieldTenantID).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: source tenants: %w", err)
	}
	op := configchange.OpUpsert
	if deleting {
		op = configchange.OpDelete
	}
	out := make([]change, len(rows))
	for i, s := range rows {
		out[i] = change{kind: configchange.KindSource, id: s.ID, tenantID: s.TenantID, op: op}
	}
	return out, nil
}

func destinationChanges(ctx context.Context, c *ent.Client, m *ent.DestinationMutation, deleting bool) ([]change, error) {
	ids, err := m.IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: destination ids: %w", err)
	}
	rows, err := c.Destination.Query().Where(destination.IDIn(ids...)).
		Select(destination.FieldID, destination.FieldTenantID).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: destination tenants: %w", err)
	}
	op := configchange.OpUpsert
	if deleting {
		op = configchange.OpDelete
	}
	out := make([]change, len(rows))
	for i, d := range rows {
		out[i] = change{kind: configchange.KindDestination, id: d.ID, tenantID: d.TenantID, op: op}
	}
	return out, nil
}

func record(ctx context.Context, tx *ent.Tx, r *Revisions, dia string, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	if dia == dialect.Postgres {
		if _, err := tx.ExecContext(sys, "SELECT pg_advisory_xact_lock($1)", int64(revisionLock)); err != nil {
			return fmt.Errorf("store: revision lock: %w", err)
		}
	}
	var last int64
	for _, ch := range changes {
		create := tx.ConfigChange.Create().
			SetKind(ch.kind).
			SetTenantID(ch.tenantID).
			SetOp(ch.op)
		if ch.kind == configchange.KindDestination {
			create.SetDestinationID(ch.id)
		} else {
			create.SetSourceID(ch.id)
		}
		cc, err := create.Save(sys)
		if err != nil {
			return fmt.Errorf("store: revision log: %w", err)
		}
		last = cc.ID
		if ch.op == configchange.OpDelete {
			continue
		}
		stamp := context.WithValue(sys, skipRevisionKey{}, true)
		if ch.kind == configchange.KindDestination {
			err = tx.Destination.UpdateOneID(ch.id).SetRevision(cc.ID).Exec(stamp)
		} else {
			err = tx.Source.UpdateOneID(ch.id).SetRevision(cc.ID).Exec(stamp)
		}
		if err != nil {
			return fmt.Errorf("store: stamp revision: %w", err)
		}
	}
	if dia == dialect.Postgres {
		// Delivered to listeners when the transaction commits, not before.
		if _, err := tx.ExecContext(sys, "SELECT pg_notify($1, $2)", NotifyChannel, strconv.FormatInt(last, 10)); err != nil {
			return fmt.Errorf("store: notify: %w", err)
		}
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil && r != nil {
				r.Fire()
			}
			return err
		})
	})
	return nil
}
