package config

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/configchange"
	"github.com/plugshq/plugs/ent/destination"
	"github.com/plugshq/plugs/ent/source"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultLogWindow is how many revision-log entries a Cache keeps; a data
// plane further behind than that gets a full snapshot.
const DefaultLogWindow = 200_000

// Cache holds the configuration at the newest revision, shared by every
// configuration stream of a control-plane replica, together with the tail
// of the revision log. A data plane's delta is read off the log (the
// sources changed since its version), never by diffing snapshots.
type Cache struct {
	snap   *Snapshotter
	dia    string
	window int
	log    *slog.Logger

	refreshMu sync.Mutex // one refresh at a time

	mu      sync.RWMutex
	rev     int64
	sources map[string]*plugsv1.SourceConfig
	dests   map[string]*plugsv1.DestinationConfig
	changes []logEntry // ascending by rev, all with rev > floor
	// floor is the oldest version a delta can start from: every change
	// after it is in changes.
	floor   int64
	changed chan struct{}
}

// logEntry is one change: of a source, or of a destination.
type logEntry struct {
	rev  int64
	id   string
	dest bool
}

func entryOf(ch *ent.ConfigChange) logEntry {
	if ch.Kind == configchange.KindDestination {
		return logEntry{rev: ch.ID, id: ch.DestinationID.String(), dest: true}
	}
	return logEntry{rev: ch.ID, id: ch.SourceID.String()}
}

// logFields are the columns of the revision log the cache reads.
var logFields = []string{configchange.FieldID, configchange.FieldKind, configchange.FieldSourceID, configchange.FieldDestinationID}

// NewCache returns an empty cache; Load fills it.
func NewCache(s *Snapshotter, dia string, window int) *Cache {
	if window <= 0 {
		window = DefaultLogWindow
	}
	return &Cache{
		snap: s, dia: dia, window: window, log: s.log(),
		sources: map[string]*plugsv1.SourceConfig{}, dests: map[string]*plugsv1.DestinationConfig{},
		changed: make(chan struct{}),
	}
}

// readTx opens a read-only transaction that sees one consistent state of
// the database across its statements.
func (c *Cache) readTx(ctx context.Context) (*ent.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if c.dia == dialect.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return c.snap.Client.BeginTx(ctx, opts)
}

// Load reads the whole configuration and the log tail.
func (c *Cache) Load(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	sys := viewer.System(ctx)
	tx, err := c.readTx(sys)
	if err != nil {
		return fmt.Errorf("config: load: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rev, err := store.Current(sys, tx.Client())
	if err != nil {
		return err
	}
	rows, err := tx.Source.Query().WithSecrets().All(sys)
	if err != nil {
		return fmt.Errorf("config: load: %w", err)
	}
	sources := make(map[string]*plugsv1.SourceConfig, len(rows))
	for _, r := range rows {
		sc, err := c.snap.SourceConfig(r)
		if err != nil {
			return err
		}
		sources[sc.GetId()] = sc
	}
	drows, err := tx.Destination.Query().All(sys)
	if err != nil {
		return fmt.Errorf("config: load destinations: %w", err)
	}
	dests := make(map[string]*plugsv1.DestinationConfig, len(drows))
	for _, d := range drows {
		dc, err := c.snap.DestinationConfig(d)
		if err != nil {
			c.log.Error("destination left out of the configuration", "destination_id", d.ID, "error", err)
			continue
		}
		dests[dc.GetId()] = dc
	}
	tail, err := tx.ConfigChange.Query().
		Where(configchange.IDLTE(rev)).
		Order(ent.Desc(configchange.FieldID)).
		Limit(c.window).
		Select(logFields...).
		All(sys)
	if err != nil {
		return fmt.Errorf("config: load log: %w", err)
	}
	changes := make([]logEntry, len(tail))
	for i, ch := range tail {
		changes[len(tail)-1-i] = entryOf(ch)
	}
	floor := int64(0)
	if len(tail) == c.window {
		floor = changes[0].rev - 1
	}
	c.mu.Lock()
	c.rev, c.sources, c.dests, c.changes, c.floor = rev, sources, dests, changes, floor
	c.wake()
	c.mu.Unlock()
	return nil
}

// Refresh brings the cache up to the newest committed revision by
// replaying the log: only the sources changed since are read.
func (c *Cache) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.RLock()
	from := c.rev
	c.mu.RUnlock()

	sys := viewer.System(ctx)
	tx, err := c.readTx(sys)
	if err != nil {
		return fmt.Errorf("config: refresh: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rows, err := tx.ConfigChange.Query().
		Where(configchange.IDGT(from)).
		Order(ent.Asc(configchange.FieldID)).
		Select(logFields...).
		All(sys)
	if err != nil {
		return fmt.Errorf("config: refresh: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	var ids, destIDs []uuid.UUID
	seen := make(map[uuid.UUID]bool, len(rows))
	for _, r := range rows {
		e := entryOf(r)
		id := r.SourceID
		if e.dest {
			id = r.DestinationID
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if e.dest {
			destIDs = append(destIDs, id)
		} else {
			ids = append(ids, id)
		}
	}
	loaded := make(map[string]*plugsv1.SourceConfig, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		srcs, err := tx.Source.Query().Where(source.IDIn(chunk...)).WithSecrets().All(sys)
		if err != nil {
			return fmt.Errorf("config: refresh: %w", err)
		}
		for _, s := range srcs {
			sc, err := c.snap.SourceConfig(s)
			if err != nil {
				return err
			}
			loaded[sc.GetId()] = sc
		}
	}

	loadedDests := make(map[string]*plugsv1.DestinationConfig, len(destIDs))
	for chunk := range slices.Chunk(destIDs, 500) {
		ds, err := tx.Destination.Query().Where(destination.IDIn(chunk...)).All(sys)
		if err != nil {
			return fmt.Errorf("config: refresh destinations: %w", err)
		}
		for _, d := range ds {
			dc, err := c.snap.DestinationConfig(d)
			if err != nil {
				c.log.Error("destination left out of the configuration", "destination_id", d.ID, "error", err)
				continue
			}
			loadedDests[dc.GetId()] = dc
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	nextDests := maps.Clone(c.dests)
	for _, id := range destIDs {
		key := id.String()
		if dc, ok := loadedDests[key]; ok {
			nextDests[key] = dc
		} else {
			delete(nextDests, key)
		}
	}
	c.dests = nextDests
	// Copy on write: streams may be ranging over the old map.
	next := make(map[string]*plugsv1.SourceConfig, len(c.sources)+len(loaded))
	for id, sc := range c.sources {
		next[id] = sc
	}
	for _, id := range ids {
		key := id.String()
		if sc, ok := loaded[key]; ok {
			next[key] = sc
		} else {
			delete(next, key)
		}
	}
	for _, r := range rows {
		c.changes = append(c.changes, entryOf(r))
	}
	if over := len(c.changes) - c.window; over > 0 {
		c.floor = c.changes[over-1].rev
		c.changes = slices.Clone(c.changes[over:])
	}
	c.sources = next
	c.rev = rows[len(rows)-1].ID
	c.wake()
	return nil
}

// wake tells waiters the revision moved; c.mu must be held.
func (c *Cache) wake() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Follow refreshes the cache whenever signal fires, until ctx ends.
func (c *Cache) Follow(ctx context.Context, signal ChangeSignal) {
	for {
		ch := signal.Changed()
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("configuration refresh failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// Changed returns a channel closed when the revision next moves.
func (c *Cache) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// Source returns the configuration of a source as data planes run it, nil
// when there is none.
func (c *Cache) Source(id string) *plugsv1.SourceConfig {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sources[id]
}

// Revision is the newest revision the cache holds.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Update is what brings a data plane from one version to the cache's.
type Update struct {
	Revision int64
	Full     bool
	Base     int64
	Upserts  []*plugsv1.SourceConfig
	Removed  []string
	// Destinations upserted and removed.
	Destinations        []*plugsv1.DestinationConfig
	RemovedDestinations []string
}

// UpdateFrom returns the update from version held (-1 when the data plane
// holds nothing): a delta when the log reaches back to held, otherwise the
// full configuration. It returns nil when held is current (or ahead, as
// when a data plane comes from a replica that has seen more).
func (c *Cache) UpdateFrom(held int64) *Update {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if held >= c.rev {
		return nil
	}
	if held < c.floor {
		u := &Update{Revision: c.rev, Full: true, Upserts: make([]*plugsv1.SourceConfig, 0, len(c.sources))}
		for _, sc := range c.sources {
			u.Upserts = append(u.Upserts, sc)
		}
		sort.Slice(u.Upserts, func(i, j int) bool { return u.Upserts[i].GetId() < u.Upserts[j].GetId() })
		for _, id := range slices.Sorted(maps.Keys(c.dests)) {
			u.Destinations = append(u.Destinations, c.dests[id])
		}
		return u
	}
	u := &Update{Revision: c.rev, Base: held}
	i := sort.Search(len(c.changes), func(i int) bool { return c.changes[i].rev > held })
	done := map[logEntry]bool{}
	for _, e := range c.changes[i:] {
		key := logEntry{id: e.id, dest: e.dest}
		if done[key] {
			continue
		}
		done[key] = true
		switch {
		case e.dest:
			if dc, ok := c.dests[e.id]; ok {
				u.Destinations = append(u.Destinations, dc)
			} else {
				u.RemovedDestinations = append(u.RemovedDestinations, e.id)
			}
		default:
			if sc, ok := c.sources[e.id]; ok {
				u.Upserts = append(u.Upserts, sc)
			} else {
				u.Removed = append(u.Removed, e.id)
			}
		}
	}
	return u
}
