package streamindex

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/controlplane/store"
)

// Kind is what one package keeps with an Indexer: the receipts, the
// delivery log. It is a type without fields, so that a Service of that
// kind is ready at its zero value.
type Kind[R any] interface {
	// Spec says which stream, consumer and names.
	Spec() Spec
	// Table is the package's table in db.
	Table(db *store.DB) Table[R]
}

// Spec is what tells one kind's indexer from another's, its table aside.
type Spec struct {
	Stream, Consumer string
	// Description of the durable consumer, for `nats consumer info`.
	Description string
	// One and Many name a row in logs, as in "receipt" and "receipts".
	One, Many string
	// DefaultRetention is the stream's own, used when Settings.Retention
	// is zero.
	DefaultRetention time.Duration
	// ErrRunning is the package's error for Run while a run is under way.
	ErrRunning error
	// Also are further streams indexed into the same table.
	Also []Feed
}

// Service indexes one kind's stream and applies its retention: what a
// package exports as its Indexer. Set the fields before Run.
type Service[R any, K Kind[R]] struct {
	// DB is the control plane's database, required: its Dialect says how
	// the inserts are written. The indexer acts as the system viewer,
	// across tenants.
	DB *store.DB
	// JS reaches the backbone. Nil runs the retention job alone: rows
	// indexed before still age out.
	JS jetstream.JetStream
	// Settings tune the indexer; a zero Retention means the kind's
	// DefaultRetention.
	Settings
	Log *slog.Logger

	runner Runner
}

// Run indexes and prunes until ctx is done or Stop is called, and returns
// nil then; the kind's ErrRunning when the indexer is already running, and
// ErrNoDatabase or ErrUnknownDialect at once when DB is missing or of a
// dialect the inserts cannot be written for (retried, they would fail
// forever). Failures to reach JetStream or the database are logged and
// retried. The streams are created by the data planes: until one has, Run
// waits for the kind's stream.
func (s *Service[R, K]) Run(ctx context.Context) error {
	if s.DB == nil {
		return ErrNoDatabase
	}
	if _, err := numbered(s.DB.Dialect); err != nil {
		return err
	}
	if !s.runner.Run(ctx, s.indexer().Run) {
		var k K
		return k.Spec().ErrRunning
	}
	return nil
}

// Stop ends Run and waits for it. Rows taken but not yet indexed are handed
// back to the stream for another replica.
func (s *Service[R, K]) Stop() { s.runner.Stop() }

// Prune deletes the rows older than cutoff and returns how many it
// deleted, PruneBatchSize rows per statement, oldest first.
func (s *Service[R, K]) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	return s.indexer().Prune(ctx, cutoff)
}

// PruneBytes deletes the oldest rows past the byte limits, the expendable
// ones first, and returns how many it deleted.
func (s *Service[R, K]) PruneBytes(ctx context.Context) (int, error) {
	return s.indexer().PruneBytes(ctx)
}

func (s *Service[R, K]) indexer() *Indexer[R] {
	var k K
	spec := k.Spec()
	settings := s.Settings
	if settings.Retention <= 0 {
		settings.Retention = spec.DefaultRetention
	}
	return &Indexer[R]{
		Table:       k.Table(s.DB),
		JS:          s.JS,
		Stream:      spec.Stream,
		Consumer:    spec.Consumer,
		Description: spec.Description,
		Also:        spec.Also,
		One:         spec.One,
		Many:        spec.Many,
		Settings:    settings,
		Log:         s.Log,
	}
}
