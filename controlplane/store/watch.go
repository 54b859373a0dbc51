package store

import (
	"context"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/plugshq/plugs/ent/viewer"
)

// Watch makes db.Revisions fire for configuration changes committed by any
// process on the same database, until ctx ends. On PostgreSQL it listens on
// NotifyChannel, so replicas learn of a change as it commits; on every
// database it also polls the newest revision every poll interval, which
// covers a notification lost while the listening connection was down.
func Watch(ctx context.Context, db *DB, poll time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	if poll <= 0 {
		poll = 2 * time.Second
	}
	if db.Dialect == dialect.Postgres {
		go listen(ctx, db, log)
	}
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		seen, _ := Current(viewer.System(ctx), db.Client)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rev, err := Current(viewer.System(ctx), db.Client)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("revision poll failed", "error", err)
				}
				continue
			}
			if rev != seen {
				seen = rev
				db.Revisions.Fire()
			}
		}
	}()
}

// listen holds a LISTEN connection, reconnecting with backoff.
func listen(ctx context.Context, db *DB, log *slog.Logger) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, db)
		if ctx.Err() != nil {
			return
		}
		log.Warn("configuration change listener stopped; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func listenOnce(ctx context.Context, db *DB) error {
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	// A change may have committed while the listener was down.
	db.Revisions.Fire()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		db.Revisions.Fire()
	}
}
