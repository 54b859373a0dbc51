// Package secrets seals signing secrets at rest with AES-256-GCM under
// master keys that carry ids, so a new master key can be added and every
// secret re-sealed under it while the old key still opens what it sealed.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// KeySize is the master key length: AES-256.
const KeySize = 32

// Keyring holds the master keys. The primary key seals; every key opens what
// it sealed. It is safe for concurrent use, and Replace changes its keys in
// place, so a running control plane picks up a key added to its key file
// without anything that holds the keyring noticing (Reloader).
type Keyring struct {
	ring atomic.Pointer[ring]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced by Replace
	// miss, when set, is asked to bring the keys up to date when a
	// ciphertext names a key the keyring does not hold; it reports whether
	// the keys changed (Reloader.reloadIfChanged).
	miss atomic.Pointer[func() bool]
}

// ring is one immutable set of keys.
type ring struct {
	aeads   map[string]cipher.AEAD
	primary string
	ids     []string // in keyring order, the primary last
}

// Key is one master key with its id.
type Key struct {
	ID  string
	Raw []byte
}

// KeyID derives the id of a master key: "k" and the first 8 hex digits of
// its SHA-256. Ids reveal nothing useful about the key and are stable, so the
// same key always has the same id wherever it is configured.
func KeyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("plugs.master-key-id.v1:"), raw...))
	return "k" + hex.EncodeToString(sum[:4])
}

// NewKeyring builds a keyring from keys; the last one is primary.
func NewKeyring(keys ...Key) (*Keyring, error) {
	r, err := newRing(keys)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{changed: make(chan struct{})}
	kr.ring.Store(r)
	return kr, nil
}

func newRing(keys []Key) (*ring, error) {
	if len(keys) == 0 {
		return nil, ErrNoMasterKey
	}
	r := &ring{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if len(k.Raw) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrBadMasterKey, i+1, len(k.Raw), KeySize)
		}
		id := k.ID
		if id == "" {
			id = KeyID(k.Raw)
		}
		if _, dup := r.aeads[id]; dup {
			return nil, fmt.Errorf("%w: key id %q given twice", ErrBadMasterKey, id)
		}
		block, err := aes.NewCipher(k.Raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMasterKey, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadMasterKey, err)
		}
		r.aeads[id] = aead
		r.ids = append(r.ids, id)
		r.primary = id
	}
	return r, nil
}

// Replace swaps the keys for keys (the last one primary) and reports
// whether the key ids or the primary changed; when they did, Changed's
// channel is closed. Invalid keys leave the keyring as it was.
func (kr *Keyring) Replace(keys ...Key) (bool, error) {
	r, err := newRing(keys)
	if err != nil {
		return false, err
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if slices.Equal(kr.ring.Load().ids, r.ids) {
		return false, nil
	}
	kr.ring.Store(r)
	close(kr.changed)
	kr.changed = make(chan struct{})
	return true, nil
}

// Changed returns a channel closed the next time Replace changes the keys.
func (kr *Keyring) Changed() <-chan struct{} {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.changed
}

// IDs are the ids of the keys held, in keyring order (the primary last).
func (kr *Keyring) IDs() []string { return slices.Clone(kr.ring.Load().ids) }

// Holds reports whether the keyring holds the key with id.
func (kr *Keyring) Holds(id string) bool {
	_, ok := kr.ring.Load().aeads[id]
	return ok
}

// ParseKeys reads master keys from text: one key per line or per comma, each
// either "base64" or "id:base64"; blank lines and lines starting with # are
// skipped. This is the format of PLUGS_MASTER_KEY and of the key file.
func ParseKeys(text string) ([]Key, error) {
	var keys []Key
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' })
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "#") {
			continue
		}
		id, b64 := "", f
		if i := strings.IndexByte(f, ':'); i >= 0 {
			id, b64 = f[:i], f[i+1:]
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			// Never echo the line: it is key material.
			return nil, fmt.Errorf("%w: key %d is not base64", ErrBadMasterKey, len(keys)+1)
		}
		keys = append(keys, Key{ID: id, Raw: raw})
	}
	if len(keys) == 0 {
		return nil, ErrNoMasterKey
	}
	return keys, nil
}

// GenerateKey returns a new random master key.
func GenerateKey() (Key, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return Key{}, fmt.Errorf("secrets: generate key: %w", err)
	}
	return Key{ID: KeyID(raw), Raw: raw}, nil
}

// FormatKey writes k in the key-file format.
func FormatKey(k Key) string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Raw)
}

// PrimaryID is the id of the key that seals.
func (kr *Keyring) PrimaryID() string { return kr.ring.Load().primary }
