package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often a Reloader looks at its key file.
const DefaultReloadInterval = 2 * time.Second

// Reloader keeps a Keyring in step with its key file while the process
// runs: it reads the file again when it changes (polled, and at once when
// a ciphertext names a key the keyring lacks) or when asked (SIGHUP). A
// key added to the file is then usable within a poll interval, and a
// secret re-sealed under it by `plugs keys rotate` opens at once. A file
// that does not parse, or is readable by others, is reported and the keys
// held are kept: a half-written file never empties the keyring.
//
// Keys from PLUGS_MASTER_KEY cannot change under a running process; with
// them the Reloader does nothing.
type Reloader struct {
	kr   *Keyring
	file string // empty when the keys come from the environment
	log  *slog.Logger

	mu    sync.Mutex // one read at a time
	stamp fileStamp  // of the file as last read
}

// fileStamp tells whether a file changed without reading it.
type fileStamp struct {
	size    int64
	modTime time.Time
	ok      bool
}

func stampOf(path string) fileStamp {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{size: info.Size(), modTime: info.ModTime(), ok: true}
}

// NewReloader watches keyFile for kr, which Load built from it. With the
// keys in PLUGS_MASTER_KEY it watches nothing.
func NewReloader(kr *Keyring, keyFile string, log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{kr: kr, log: log}
	if !FromEnvironment() {
		r.file = keyFile
		r.stamp = stampOf(keyFile)
		miss := r.reloadIfChanged
		kr.miss.Store(&miss)
	}
	return r
}

// File is the key file watched; empty when the keys come from the
// environment.
func (r *Reloader) File() string { return r.file }

// Reload reads the key file and replaces the keys when they differ,
// reporting whether they did.
func (r *Reloader) Reload() (bool, error) {
	if r.file == "" {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload()
}

// reloadIfChanged reloads when the file's size or modification time moved
// since it was last read; r.mu is taken.
func (r *Reloader) reloadIfChanged() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if stampOf(r.file) == r.stamp {
		return false
	}
	changed, err := r.reload()
	if err != nil {
		r.log.Error("master key file not reloaded; keeping the keys held", "file", r.file, "error", err)
	}
	return changed
}

func (r *Reloader) reload() (bool, error) {
	stamp := stampOf(r.file)
	data, err := os.ReadFile(r.file)
	if err != nil {
		return false, fmt.Errorf("secrets: read key file: %w", err)
	}
	// Stamped even when the file is refused, so a broken file is reported
	// once per change, not at every miss.
	r.stamp = stamp
	keys, err := parseKeyFile(r.file, data)
	if err != nil {
		return false, err
	}
	before := r.kr.IDs()
	changed, err := r.kr.Replace(keys...)
	if err != nil {
		return false, fmt.Errorf("key file %s: %w", r.file, err)
	}
	if changed {
		r.log.Info("master keys reloaded", "file", r.file, "key_ids", r.kr.IDs(), "previous_key_ids", before, "primary", r.kr.PrimaryID())
	}
	return changed, nil
}

// Run polls the key file every interval (DefaultReloadInterval when 0)
// and reloads it at once on each value of hup, until ctx ends.
func (r *Reloader) Run(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	if r.file == "" {
		if hup != nil {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					r.log.Warn("master keys come from " + EnvMasterKey + ", which a running process cannot reload; restart it to change them")
				}
			}
		}
		return
	}
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reloadIfChanged()
		case <-hup:
			if _, err := r.Reload(); err != nil && !errors.Is(err, context.Canceled) {
				r.log.Error("master key file not reloaded; keeping the keys held", "file", r.file, "error", err)
			}
		}
	}
}
