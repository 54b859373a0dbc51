package api

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/source"
)

// NoSources, alone in a destination's source_ids, routes no source to it.
// An empty list routes every source of the tenant, so a destination whose
// every listed source is deleted is left with this id rather than with an
// empty list: it keeps delivering what it already holds and takes nothing
// new until its sources are set again. No source has this id (sources get
// UUIDv7 ids), so data planes of any version route nothing to it.
var NoSources = uuid.Nil.String()

// checkRoutedSources makes sure every id in ids not already in kept names a
// source of the caller's tenant. The tenant filter hides other tenants'
// sources, so their ids are not found, exactly like ids that never existed.
// Ids kept from before were checked when they were added (or are NoSources).
//
// It runs after the destination is written in tx, when the write holds the
// revision lock (store.record) that DeleteSource's transaction takes with
// its delete, before unrouteSource reads the destinations. So on PostgreSQL
// either the delete commits first and the source is not found here, or the
// destination commits first and unrouteSource takes the id out again.
func checkRoutedSources(ctx context.Context, tx *ent.Tx, ids, kept []string) error {
	var want []uuid.UUID
	for _, s := range ids {
		if s == NoSources || slices.Contains(kept, s) {
			continue
		}
		// Already validated and canonical.
		want = append(want, uuid.MustParse(s))
	}
	return requireSources(ctx, tx.Source, want)
}

// requireSources answers NOT_FOUND naming the first of ids that is not a
// source of the caller's tenant; another tenant's is not found, exactly like
// one that never existed. Errors of the store are returned as they are.
func requireSources(ctx context.Context, c *ent.SourceClient, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := c.Query().Where(source.IDIn(ids...)).IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return notFound("source", id.String())
		}
	}
	return nil
}

// unrouteSource takes a deleted source out of the source_ids of every
// destination of the tenant that lists it, in the deleting transaction. A
// list left empty becomes [NoSources], never "every source". Each
// destination changed is a configuration change of its own, so data planes
// get the new routes with the source's removal. It runs after the source's
// delete, which holds the revision lock (see checkRoutedSources).
func unrouteSource(ctx context.Context, tx *ent.Tx, id uuid.UUID) (int, error) {
	rows, err := tx.Destination.Query().
		Where(predicate.Destination(func(s *sql.Selector) {
			s.Where(sqljson.ValueContains(s.C(destination.FieldSourceIds), id.String()))
		})).
		Order(ent.Asc(destination.FieldID)).
		All(ctx)
	if err != nil {
		return 0, err
	}
	for _, d := range rows {
		ids := slices.DeleteFunc(slices.Clone(d.SourceIds), func(s string) bool { return s == id.String() })
		if len(ids) == 0 {
			ids = []string{NoSources}
		}
		if err := tx.Destination.UpdateOneID(d.ID).SetSourceIds(ids).Exec(ctx); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}
