// Package datadir guards a data directory. The process serving from it
// (plugs dev, or plugs controlplane on SQLite) holds an exclusive lock on
// DATA_DIR/plugs.lock for as long as it runs, and writes in that file who
// it is and which master keys it holds. A second server on the same
// directory is refused with a message naming the first, and an operator
// command that changes what the server relies on (plugs keys rotate) can
// wait for the server to load a new key before using it.
//
// The lock is an advisory flock(2) on the open file, so it goes away with
// the process however it ends; the file itself is never removed.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LockFile is the name of the lock file in a data directory.
const LockFile = "plugs.lock"

// Holder is what the process holding a data directory says about itself.
type Holder struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	// KeyFile is the absolute path of the master key file it follows;
	// empty when its keys come from PLUGS_MASTER_KEY, which it cannot
	// reload.
	KeyFile string `json:"key_file,omitempty"`
	// KeyIDs are the master keys it holds now, the primary last.
	KeyIDs  []string  `json:"key_ids,omitempty"`
	Started time.Time `json:"started"`
}

// Describe names the holder for people: "plugs dev (pid 42)".
func (h *Holder) Describe() string {
	if h == nil {
		return "another process"
	}
	return fmt.Sprintf("%s (pid %d)", h.Command, h.PID)
}

// Lock is the hold on a data directory.
type Lock struct {
	mu     sync.Mutex
	f      *os.File
	holder Holder
}

// Acquire takes dir's lock for h, creating dir (mode 0700) and the lock
// file if needed. PID and Started are filled in. When another process
// holds the lock it returns an *InUseError naming it.
func Acquire(dir string, h Holder) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: open lock: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			held, _ := Read(dir)
			return nil, &InUseError{Dir: dir, Holder: held}
		}
		return nil, fmt.Errorf("datadir: lock %s: %w", path, err)
	}
	h.PID, h.Started = os.Getpid(), time.Now().UTC()
	l := &Lock{f: f, holder: h}
	if err := l.write(); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// SetKeyIDs records the master keys the holder holds now.
func (l *Lock) SetKeyIDs(ids []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holder.KeyIDs = ids
	return l.write()
}

// write replaces the file's contents with the holder; l.mu is held or l
// not yet shared. Readers may see it half written and read again.
func (l *Lock) write() error {
	b, err := json.Marshal(l.holder)
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	b = append(b, '\n')
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("datadir: write lock: %w", err)
	}
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("datadir: write lock: %w", err)
	}
	return nil
}

// Release lets the directory go. The file stays, so a process waiting on
// it never locks a file that is being replaced.
func (l *Lock) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	_ = unlock(l.f)
	_ = l.f.Close()
	l.f = nil
}

// Read returns what the holder of dir last wrote. It says nothing about
// whether the lock is held: Acquire does.
func Read(dir string) (*Holder, error) {
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, fmt.Errorf("datadir: %w", err)
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("datadir: %s: %w", LockFile, err)
	}
	return &h, nil
}
