package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/predicate"
	"github.com/plugshq/plugs/ent/replayoperation"
	"github.com/plugshq/plugs/ent/viewer"
)

const (
	// DefaultConcurrency is how many operations one replica runs at once.
	DefaultConcurrency = 2
	// DefaultRate is how many receipts per second one operation replays:
	// enough to replay a day of rejections in minutes, little enough to
	// leave the backbone and the database to the live traffic.
	DefaultRate = 200
	// DefaultPageSize is how many receipts are read at a time; bodies are
	// read one receipt at a time.
	DefaultPageSize = 100
	// DefaultProgressEvery is the longest a running operation goes without
	// writing its progress, which is also its heartbeat.
	DefaultProgressEvery = time.Second
	// DefaultProgressCount is how many receipts an operation replays at
	// most between two writes of its progress; a replica that stops
	// between two writes leaves at most this many to be replayed again
	// (found duplicate) by the one that takes over.
	DefaultProgressCount = 20
	// DefaultStaleAfter is how long a running operation may go without a
	// heartbeat before another replica takes it over: well beyond
	// DefaultProgressEvery plus the retries of one receipt.
	DefaultStaleAfter = 30 * time.Second
	// DefaultScanEvery is how often a replica looks for operations to run:
	// new ones started on a replica that is busy, and stale ones.
	DefaultScanEvery = 10 * time.Second
	// DefaultRetryDelay is the first wait before replaying again a receipt
	// the backbone did not take; it doubles per attempt.
	DefaultRetryDelay = 500 * time.Millisecond
	// replayAttempts is how often a receipt is tried before it counts as
	// failed.
	replayAttempts = 3
	// sourceWait bounds the wait for this replica's configuration to have
	// a source just created.
	sourceWait = 10 * time.Second
	// writeTimeout bounds the last writes of a walk, which run after the
	// walk's context may have ended.
	writeTimeout = 5 * time.Second
)

// Runner runs bulk replays (plugs.v1.ReplayOperation) in the background.
// Operations live in the database, so every control-plane replica runs a
// Runner and any of them may run any operation: a replica claims an
// operation that nobody runs, or whose replica went quiet, with a
// conditional update of its owner and heartbeat, so two replicas never run
// one operation. Set the fields before Run; zero options take the
// defaults.
type Runner struct {
	// Client is the control plane's database; the runner acts as the
	// system viewer and scopes every query to the operation's tenant
	// itself.
	Client   *ent.Client
	Replayer *Replayer
	// Owner names this replica in the operations it runs; a random suffix
	// tells apart processes that share a name.
	Owner string
	// Concurrency is how many operations this replica runs at once; zero
	// means DefaultConcurrency.
	Concurrency int
	// Rate is how many receipts per second one operation replays at most;
	// zero means DefaultRate, negative means no limit.
	Rate float64
	// PageSize is how many receipts are read at a time; zero means
	// DefaultPageSize.
	PageSize int
	// ProgressEvery and ProgressCount say how often progress is written:
	// after at most this long or this many receipts; zero means
	// DefaultProgressEvery and DefaultProgressCount.
	ProgressEvery time.Duration
	ProgressCount int
	// StaleAfter is how long an operation may go without a heartbeat
	// before this replica takes it over; zero means DefaultStaleAfter.
	StaleAfter time.Duration
	// ScanEvery is how often this replica looks for operations to run;
	// zero means DefaultScanEvery.
	ScanEvery time.Duration
	// RetryDelay is the first wait before a receipt the backbone did not
	// take is replayed again; zero means DefaultRetryDelay.
	RetryDelay time.Duration
	Log        *slog.Logger

	initOnce sync.Once
	owner    string
	wake     chan struct{}

	mu      sync.Mutex
	running bool
	// walks are the operations this replica runs, by id, with what stops
	// each.
	walks map[uuid.UUID]context.CancelCauseFunc
}

func (r *Runner) init() {
	r.initOnce.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		name := r.Owner
		if name == "" {
			name = "controlplane"
		}
		r.owner = name + "#" + hex.EncodeToString(b[:])
		r.wake = make(chan struct{}, 1)
		r.walks = map[uuid.UUID]context.CancelCauseFunc{}
	})
}

// Run claims and runs operations until ctx is done, then stops each walk
// and leaves its operation to be resumed, by this replica when it starts
// again or by another; ErrRunning when the runner is already running.
// Without a backbone there is nothing to replay with, and Run returns at
// once: replicas that have one run the operations.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return ErrRunning
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
	if r.Replayer == nil || r.Replayer.JetStream == nil {
		r.log().Info("bulk replays run on the replicas with a backbone, not here")
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	scan := time.NewTicker(positive(r.ScanEvery, DefaultScanEvery))
	defer scan.Stop()
	for {
		r.claim(ctx, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-scan.C:
		}
	}
}

// Wake makes Run look for operations to run now, for example one just
// started.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stop ends the walk of an operation on this replica, if it runs here,
// once it has been cancelled; a walk elsewhere notices at its next write
// of progress.
func (r *Runner) Stop(id uuid.UUID) {
	r.init()
	r.mu.Lock()
	cancel := r.walks[id]
	r.mu.Unlock()
	if cancel != nil {
		cancel(ErrCancelled)
	}
}

// claimable selects running operations nobody runs: new ones, ones left by
// a replica that stopped cleanly, and ones whose replica has not written
// progress since stale.
func claimable(stale time.Time) predicate.ReplayOperation {
	return replayoperation.And(
		replayoperation.StateEQ(replayoperation.StateRunning),
		replayoperation.Or(
			replayoperation.Owner(""),
			replayoperation.HeartbeatTimeIsNil(),
			replayoperation.HeartbeatTimeLT(stale),
		),
	)
}

// claim takes as many claimable operations as there are free slots and
// starts their walks.
func (r *Runner) claim(ctx context.Context, wg *sync.WaitGroup) {
	r.mu.Lock()
	busy := len(r.walks)
	r.mu.Unlock()
	free := positive(r.Concurrency, DefaultConcurrency) - busy
	if free <= 0 {
		return
	}
	sys := viewer.System(ctx)
	at := now()
	stale := at.Add(-positive(r.StaleAfter, DefaultStaleAfter))
	// Oldest first. Operations this replica runs may be among them if it
	// was too slow to write progress; they are skipped.
	cands, err := r.Client.ReplayOperation.Query().
		Where(claimable(stale)).
		Order(replayoperation.ByID()).
		Limit(free+busy).
		Select(replayoperation.FieldID, replayoperation.FieldOwner).
		All(sys)
	if err != nil {
		if ctx.Err() == nil {
			r.log().Warn("looking for replay operations to run", "error", err)
		}
		return
	}
	for _, c := range cands {
		if free == 0 {
			return
		}
		if r.walking(c.ID) {
			continue
		}
		// Only if nobody claimed it since it was read: the owner read
		// must still be there, and still quiet.
		n, err := r.Client.ReplayOperation.Update().
			Where(replayoperation.ID(c.ID), replayoperation.Owner(c.Owner), claimable(stale)).
			SetOwner(r.owner).
			SetHeartbeatTime(at).
			Save(sys)
		if err != nil {
			if ctx.Err() == nil {
				r.log().Warn("claiming a replay operation", "operation", c.ID, "error", err)
			}
			continue
		}
		if n == 0 {
			continue
		}
		op, err := r.Client.ReplayOperation.Get(sys, c.ID)
		if err != nil {
			// It stays claimed, and is taken over once stale.
			r.log().Warn("reading a claimed replay operation", "operation", c.ID, "error", err)
			continue
		}
		if c.Owner != "" {
			r.log().Info("took over a replay operation whose replica went quiet", "operation", c.ID, "previous_owner", c.Owner)
		}
		free--
		r.start(ctx, wg, op)
	}
}

func (r *Runner) walking(id uuid.UUID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.walks[id]
	return ok
}

// start walks a claimed operation in its own goroutine.
func (r *Runner) start(ctx context.Context, wg *sync.WaitGroup, op *ent.ReplayOperation) {
	wctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	r.walks[op.ID] = cancel
	r.mu.Unlock()
	wg.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.walks, op.ID)
			r.mu.Unlock()
			cancel(nil)
			// A slot is free.
			r.Wake()
		}()
		r.walk(wctx, op)
	})
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log.With("component", "replay-runner")
	}
	return slog.Default().With("component", "replay-runner")
}

// positive is v, or def when v is not positive.
func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// sleep waits for d or until ctx is done; false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
