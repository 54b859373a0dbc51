package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

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
//
// An entry that cannot be built (a secret or shared key that does not open
// under the keys held, a template this binary lacks) is withheld, not
// dropped: data planes are told to keep the version they hold, and the
// entry is built again when the keyring changes. Only a row gone from the
// database is a deletion, and the destinations the log records as deleted
// are kept as tombstones, so a full snapshot tells a data plane that was
// away which ones were deleted rather than merely absent.
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
	// withheld are the entries that could not be built, with why.
	withheld map[entryKey]*withheld
	// deleted are the destinations the revision log records as deleted.
	deleted map[string]bool
	changes []logEntry // ascending by rev, all with rev > floor
	// floor is the oldest version a delta can start from: every change
	// after it is in changes.
	floor   int64
	changed chan struct{}
}

// entryKey names a source, or a destination.
type entryKey struct {
	id   string
	dest bool
}

// logEntry is one change: of a source, or of a destination.
type logEntry struct {
	rev int64
	entryKey
}

func entryOf(ch *ent.ConfigChange) logEntry {
	if ch.Kind == configchange.KindDestination {
		return logEntry{rev: ch.ID, entryKey: entryKey{id: ch.DestinationID.String(), dest: true}}
	}
	return logEntry{rev: ch.ID, entryKey: entryKey{id: ch.SourceID.String()}}
}

// withheld is an entry that could not be built.
type withheld struct {
	err   *BuildError
	since time.Time
	// The entry as far as it could be built; nil when nothing usable was.
	source *plugsv1.SourceConfig
	dest   *plugsv1.DestinationConfig
}

// built is what building one stored entry gave.
type built struct {
	key  entryKey
	gone bool // no row: deleted
	src  *plugsv1.SourceConfig
	dst  *plugsv1.DestinationConfig
	err  *BuildError // src or dst is then the fallback
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
		withheld: map[entryKey]*withheld{}, deleted: map[string]bool{},
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

func (c *Cache) buildSource(r *ent.Source) built {
	b := built{key: entryKey{id: r.ID.String()}}
	b.src, b.err = asBuildError(c.snap.SourceConfig(r))
	return b
}

func (c *Cache) buildDestination(d *ent.Destination) built {
	b := built{key: entryKey{id: d.ID.String(), dest: true}}
	b.dst, b.err = asBuildError(c.snap.DestinationConfig(d))
	return b
}

// asBuildError passes a build's result on with its error as a
// *BuildError; any other error is one too, since it also means the entry
// cannot be built.
func asBuildError[T any](v T, err error) (T, *BuildError) {
	if err == nil {
		return v, nil
	}
	var be *BuildError
	if !errors.As(err, &be) {
		be = &BuildError{Cause: CauseSettingUnreadable, Err: err}
	}
	return v, be
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
	results := make([]built, 0, len(rows))
	for _, r := range rows {
		results = append(results, c.buildSource(r))
	}
	drows, err := tx.Destination.Query().All(sys)
	if err != nil {
		return fmt.Errorf("config: load destinations: %w", err)
	}
	for _, d := range drows {
		results = append(results, c.buildDestination(d))
	}
	// Destination ids are never reused, so every one the log saw deleted
	// is deleted for good.
	gone, err := tx.ConfigChange.Query().
		Where(configchange.KindEQ(configchange.KindDestination), configchange.OpEQ(configchange.OpDelete)).
		Select(configchange.FieldDestinationID).
		All(sys)
	if err != nil {
		return fmt.Errorf("config: load deleted destinations: %w", err)
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
	st := &state{
		sources: make(map[string]*plugsv1.SourceConfig, len(rows)), dests: make(map[string]*plugsv1.DestinationConfig, len(drows)),
		withheld: map[entryKey]*withheld{}, deleted: make(map[string]bool, len(gone)),
	}
	for _, g := range gone {
		st.deleted[g.DestinationID.String()] = true
	}
	c.mu.Lock()
	// What was withheld before (a Load after Refresh failed) keeps its
	// since.
	prev := c.withheld
	c.mu.Unlock()
	for _, b := range results {
		c.install(st, prev, b)
	}
	c.mu.Lock()
	c.rev, c.changes, c.floor = rev, changes, floor
	c.sources, c.dests, c.withheld, c.deleted = st.sources, st.dests, st.withheld, st.deleted
	c.wake()
	c.mu.Unlock()
	return nil
}

// state is the configuration being built up by Load, Refresh or a retry,
// before it replaces the cache's.
type state struct {
	sources  map[string]*plugsv1.SourceConfig
	dests    map[string]*plugsv1.DestinationConfig
	withheld map[entryKey]*withheld
	deleted  map[string]bool
}

// install puts one built entry into st. prev is what was withheld
// before, so an entry withheld for a while keeps when it started and is
// logged once, when it starts and when it ends.
func (c *Cache) install(st *state, prev map[entryKey]*withheld, b built) {
	kind, attr := "source", "source_id"
	if b.key.dest {
		kind, attr = "destination", "destination_id"
	}
	old := prev[b.key]
	switch {
	case b.gone:
		delete(st.sources, b.key.id)
		delete(st.dests, b.key.id)
		delete(st.withheld, b.key)
		if b.key.dest {
			st.deleted[b.key.id] = true
		}
	case b.err != nil:
		w := &withheld{err: b.err, since: time.Now().UTC(), source: b.src, dest: b.dst}
		if old != nil {
			w.since = old.since
		}
		if old == nil || old.err.Error() != b.err.Error() {
			c.log.Error(kind+" withheld from data planes, which keep serving the version they hold",
				attr, b.key.id, "cause", b.err.Cause, "error", b.err)
		}
		st.withheld[b.key] = w
		if b.key.dest {
			delete(st.dests, b.key.id)
		} else {
			delete(st.sources, b.key.id)
		}
	default:
		if old != nil {
			c.log.Info(kind+" configuration can be built again; sent to data planes", attr, b.key.id,
				"withheld_for", time.Since(old.since).Round(time.Second))
		}
		delete(st.withheld, b.key)
		if b.key.dest {
			st.dests[b.key.id] = b.dst
			delete(st.deleted, b.key.id)
		} else {
			st.sources[b.key.id] = b.src
		}
	}
}

// Refresh brings the cache up to the newest committed revision by
// replaying the log: only the sources changed since are read.
func (c *Cache) Refresh(ctx context.Context) error { return c.refresh(ctx, false) }

// Retry builds the withheld entries again, with whatever changed since
// (a master key added to the keyring, say), after a Refresh. Data planes
// that hold an entry from before it was withheld are sent it at once.
func (c *Cache) Retry(ctx context.Context) error { return c.refresh(ctx, true) }

func (c *Cache) refresh(ctx context.Context, retry bool) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.RLock()
	from := c.rev
	var again []entryKey
	if retry {
		again = slices.Collect(maps.Keys(c.withheld))
	}
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
	if len(rows) == 0 && len(again) == 0 {
		return nil
	}
	var ids, destIDs []uuid.UUID
	logged := make(map[entryKey]bool, len(rows))
	for _, r := range rows {
		logged[entryOf(r).entryKey] = true
	}
	seen := make(map[entryKey]bool, len(logged)+len(again))
	for _, e := range slices.Concat(slices.Collect(maps.Keys(logged)), again) {
		if seen[e] {
			continue
		}
		seen[e] = true
		id, err := uuid.Parse(e.id)
		if err != nil {
			continue // not an id the database can hold
		}
		if e.dest {
			destIDs = append(destIDs, id)
		} else {
			ids = append(ids, id)
		}
	}
	results := make(map[entryKey]built, len(ids)+len(destIDs))
	for chunk := range slices.Chunk(ids, 500) {
		srcs, err := tx.Source.Query().Where(source.IDIn(chunk...)).WithSecrets().All(sys)
		if err != nil {
			return fmt.Errorf("config: refresh: %w", err)
		}
		for _, s := range srcs {
			b := c.buildSource(s)
			results[b.key] = b
		}
	}
	for chunk := range slices.Chunk(destIDs, 500) {
		ds, err := tx.Destination.Query().Where(destination.IDIn(chunk...)).All(sys)
		if err != nil {
			return fmt.Errorf("config: refresh destinations: %w", err)
		}
		for _, d := range ds {
			b := c.buildDestination(d)
			results[b.key] = b
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	// Copy on write: what streams were given must not change under them.
	st := &state{sources: maps.Clone(c.sources), dests: maps.Clone(c.dests), withheld: maps.Clone(c.withheld), deleted: maps.Clone(c.deleted)}
	for key := range seen {
		b, ok := results[key]
		if !ok {
			// No row: deleted, if the log says the entry changed. One that
			// was only retried and is gone was deleted after the revision
			// read, and the log will say so.
			if !logged[key] {
				continue
			}
			b = built{key: key, gone: true}
		}
		c.install(st, c.withheld, b)
	}
	c.sources, c.dests, c.withheld, c.deleted = st.sources, st.dests, st.withheld, st.deleted
	for _, r := range rows {
		c.changes = append(c.changes, entryOf(r))
	}
	if over := len(c.changes) - c.window; over > 0 {
		c.floor = c.changes[over-1].rev
		c.changes = slices.Clone(c.changes[over:])
	}
	if len(rows) > 0 {
		c.rev = rows[len(rows)-1].ID
	}
	c.wake()
	return nil
}

// wake tells waiters the revision moved; c.mu must be held.
func (c *Cache) wake() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Follow refreshes the cache whenever signal fires, and builds the
// withheld entries again whenever the keyring changes, until ctx ends.
func (c *Cache) Follow(ctx context.Context, signal ChangeSignal) {
	retry := false
	for {
		ch := signal.Changed()
		var keys <-chan struct{}
		if c.snap.Keyring != nil {
			keys = c.snap.Keyring.Changed()
		}
		if err := c.refresh(ctx, retry); err != nil && ctx.Err() == nil {
			c.log.Error("configuration refresh failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
			retry = false
		case <-keys:
			retry = true
		}
	}
}

// Changed returns a channel closed when the revision next moves, or a
// withheld entry can be built again.
func (c *Cache) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// Source returns the configuration of a source as data planes run it, nil
// when there is none. A withheld source is returned as far as it could be
// built (without the secrets that do not open), or nil.
func (c *Cache) Source(id string) *plugsv1.SourceConfig {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if sc := c.sources[id]; sc != nil {
		return sc
	}
	if w := c.withheld[entryKey{id: id}]; w != nil {
		return w.source
	}
	return nil
}

// SourceError says why a source is withheld from data planes; nil when it
// is not.
func (c *Cache) SourceError(id string) *plugsv1.ConfigurationError {
	return c.problem(entryKey{id: id})
}

// DestinationError says why a destination is withheld from data planes;
// nil when it is not.
func (c *Cache) DestinationError(id string) *plugsv1.ConfigurationError {
	return c.problem(entryKey{id: id, dest: true})
}

func (c *Cache) problem(k entryKey) *plugsv1.ConfigurationError {
	c.mu.RLock()
	defer c.mu.RUnlock()
	w := c.withheld[k]
	if w == nil {
		return nil
	}
	return &plugsv1.ConfigurationError{Cause: w.err.Cause, Message: w.err.Error(), SinceTime: timestamppb.New(w.since)}
}

// Withheld counts the sources and destinations withheld from data planes.
func (c *Cache) Withheld() (sources, destinations int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k := range c.withheld {
		if k.dest {
			destinations++
		} else {
			sources++
		}
	}
	return sources, destinations
}

// Revision is the newest revision the cache holds.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Held is what a data plane says it runs: a version (-1 when it holds
// nothing) and the entries it was told were withheld and still serves from
// an earlier version, or not at all.
type Held struct {
	Revision             int64
	WithheldSources      []string
	WithheldDestinations []string
}

// Update is what brings a data plane from one version to the cache's.
type Update struct {
	Revision int64
	Full     bool
	Base     int64
	Upserts  []*plugsv1.SourceConfig
	Removed  []string
	// Destinations upserted and removed. In a full update, Removed
	// Destinations are every destination the log saw deleted.
	Destinations        []*plugsv1.DestinationConfig
	RemovedDestinations []string
	// Entries that could not be built: the data plane keeps its own.
	WithheldSources      []*plugsv1.WithheldSource
	WithheldDestinations []*plugsv1.WithheldDestination
}

func (u *Update) withhold(k entryKey, w *withheld) {
	if k.dest {
		u.WithheldDestinations = append(u.WithheldDestinations, &plugsv1.WithheldDestination{Id: k.id, Reason: w.err.Error(), Fallback: w.dest})
		return
	}
	u.WithheldSources = append(u.WithheldSources, &plugsv1.WithheldSource{Id: k.id, Reason: w.err.Error(), Fallback: w.source})
}

// UpdateFrom returns the update from what a data plane holds: a delta when
// the log reaches back to its version, otherwise the full configuration.
// A delta also brings the entries the data plane reports withheld that can
// be built now, even when its version is current. It returns nil when
// there is nothing to send, or when the data plane is ahead (it comes from
// a replica that has seen more).
func (c *Cache) UpdateFrom(h Held) *Update {
	c.mu.RLock()
	defer c.mu.RUnlock()
	held := h.Revision
	if held > c.rev {
		return nil
	}
	if held < c.floor {
		u := &Update{Revision: c.rev, Full: true, Upserts: make([]*plugsv1.SourceConfig, 0, len(c.sources))}
		for _, id := range slices.Sorted(maps.Keys(c.sources)) {
			u.Upserts = append(u.Upserts, c.sources[id])
		}
		for _, id := range slices.Sorted(maps.Keys(c.dests)) {
			u.Destinations = append(u.Destinations, c.dests[id])
		}
		u.RemovedDestinations = slices.Sorted(maps.Keys(c.deleted))
		for _, k := range slices.SortedFunc(maps.Keys(c.withheld), compareKeys) {
			u.withhold(k, c.withheld[k])
		}
		return u
	}
	u := &Update{Revision: c.rev, Base: held}
	i := sort.Search(len(c.changes), func(i int) bool { return c.changes[i].rev > held })
	done := map[entryKey]bool{}
	for _, e := range c.changes[i:] {
		if done[e.entryKey] {
			continue
		}
		done[e.entryKey] = true
		c.changeOf(u, e.entryKey)
	}
	// Entries the data plane serves from before they were withheld, which
	// can be built now.
	recovered := 0
	for _, k := range slices.Concat(keysOf(h.WithheldSources, false), keysOf(h.WithheldDestinations, true)) {
		if done[k] {
			continue
		}
		done[k] = true
		if k.dest && c.dests[k.id] != nil {
			u.Destinations = append(u.Destinations, c.dests[k.id])
			recovered++
		} else if !k.dest && c.sources[k.id] != nil {
			u.Upserts = append(u.Upserts, c.sources[k.id])
			recovered++
		}
	}
	if held == c.rev && recovered == 0 {
		return nil
	}
	return u
}

// changeOf adds an entry changed since the data plane's version to u: as
// it is now, withheld, or deleted.
func (c *Cache) changeOf(u *Update, k entryKey) {
	if w := c.withheld[k]; w != nil {
		u.withhold(k, w)
		return
	}
	if k.dest {
		if dc, ok := c.dests[k.id]; ok {
			u.Destinations = append(u.Destinations, dc)
		} else {
			u.RemovedDestinations = append(u.RemovedDestinations, k.id)
		}
		return
	}
	if sc, ok := c.sources[k.id]; ok {
		u.Upserts = append(u.Upserts, sc)
	} else {
		u.Removed = append(u.Removed, k.id)
	}
}

func keysOf(ids []string, dest bool) []entryKey {
	out := make([]entryKey, len(ids))
	for i, id := range ids {
		out[i] = entryKey{id: id, dest: dest}
	}
	return out
}

func compareKeys(a, b entryKey) int {
	if a.dest != b.dest {
		if a.dest {
			return 1
		}
		return -1
	}
	return strings.Compare(a.id, b.id)
}
