// Package snapshotfile keeps the last good configuration on disk, so a data
// plane that restarts while the control plane is away can serve what it served
// before instead of nothing (fail-static across restarts, not only across
// reconnects).
//
// The configuration carries decrypted signing secrets, so the file is sealed
// with AES-256-GCM under a key the operator supplies, written with mode 0600,
// and refused when others can read it. A write goes to a temporary file that
// is synced and renamed over the old one: a crash at any point leaves either
// the old snapshot or the new one, never a mix.
//
// The file is
//
//	"plugs-snapshot-v1\n" | 12-byte nonce | GCM(StreamConfigResponse) | tag
//
// where the header is also the additional data, so the ciphertext cannot be
// passed off as another format or another version of this one.
package snapshotfile

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// header starts every snapshot file and is the GCM additional data.
const header = "plugs-snapshot-v1\n"

const nonceSize = 12 // the standard GCM nonce

// createTemp makes the temporary file; tests replace it to make a write fail
// (running as root, a read-only directory does not).
var createTemp = os.CreateTemp

// ParseKey reads a snapshot key: standard base64 of 32 bytes, surrounding
// blanks ignored (a key read from a file ends in a newline).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Never echo the input: it is key material.
		return nil, fmt.Errorf("%w: not base64", ErrBadKey)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrBadKey, len(key))
	}
	return key, nil
}

// Save writes cfg to path, sealed under key, replacing any previous snapshot
// atomically. Missing directories are created with mode 0700.
func Save(path string, key []byte, cfg *snapshot.Config) error {
	if cfg == nil {
		return errors.New("snapshotfile: save: no configuration")
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	// Entries sorted and a deterministic marshal: the same configuration
	// gives the same plaintext, which keeps files comparable when debugging.
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(cfg.Full())
	if err != nil {
		return fmt.Errorf("snapshotfile: marshal: %w", err)
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("snapshotfile: nonce: %w", err)
	}
	data := make([]byte, 0, len(header)+nonceSize+len(plain)+aead.Overhead())
	data = append(data, header...)
	data = append(data, nonce...)
	data = aead.Seal(data, nonce, plain, []byte(header))
	clear(plain) // do not leave the secrets lying in freed memory longer than needed
	return writeAtomic(path, data)
}

// writeAtomic replaces path with data so that a crash leaves either the old
// file or the new one: write a temporary file in the same directory (rename
// is atomic only within a file system), sync it, rename it over path, then
// sync the directory so the rename itself survives a power loss.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("snapshotfile: directory: %w", err)
	}
	// os.CreateTemp opens with mode 0600, so the file is never readable by
	// others, not even before the rename.
	f, err := createTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshotfile: create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the first error is the one to report
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("snapshotfile: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("snapshotfile: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("snapshotfile: close: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("snapshotfile: rename: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapshotfile: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapshotfile: sync directory: %w", err)
	}
	return nil
}

// Load reads the snapshot at path, opens it with key and compiles it, ready to
// be swapped into a snapshot.Store. It returns ErrNoSnapshot when there is no
// file, ErrInsecureFile when others can read it, ErrCorrupt when it does not
// open, and snapshot.ErrInvalidSource when a source no longer compiles (a
// binary that changed what it accepts).
func Load(path string, key []byte) (*snapshot.Config, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	data, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	if len(data) < len(header)+nonceSize+aead.Overhead() || !bytes.HasPrefix(data, []byte(header)) {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, path)
	}
	nonce := data[len(header) : len(header)+nonceSize]
	plain, err := aead.Open(nil, nonce, data[len(header)+nonceSize:], []byte(header))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, path)
	}
	defer clear(plain)
	var resp plugsv1.StreamConfigResponse
	if err := proto.Unmarshal(plain, &resp); err != nil || !resp.GetFull() {
		// Authentic yet unreadable: written by something that is not Save.
		return nil, fmt.Errorf("%w: %s: not a full configuration", ErrCorrupt, path)
	}
	cfg, err := snapshot.Apply(nil, &resp)
	if err != nil {
		return nil, fmt.Errorf("snapshotfile: %s: %w", path, err)
	}
	return cfg, nil
}

// readPrivate reads path after checking, on the open descriptor so the answer
// is about the file actually read, that it is a regular file only its owner
// can read (the rule controlplane/secrets applies to the master key file).
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoSnapshot, path)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshotfile: open: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("snapshotfile: stat: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; chmod 600 it", ErrInsecureFile, path, perm)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("snapshotfile: read: %w", err)
	}
	return data, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrBadKey, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
	if err != nil {
		return nil, fmt.Errorf("snapshotfile: %w", err)
	}
	return aead, nil
}
