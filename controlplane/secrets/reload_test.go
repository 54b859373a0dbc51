package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A key appended to the key file is picked up by the running keyring: a
// ciphertext sealed under it opens at once (the miss makes the keyring look
// at the file again), and Changed fires.
func TestReloaderPicksUpAppendedKey(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), "master.key")
	kr, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	NewReloader(kr, path, nil)
	changed := kr.Changed()
	first := kr.PrimaryID()

	// Another process (plugs keys rotate) appends a key and seals under it.
	if _, err := AppendNewKey(path); err != nil {
		t.Fatal(err)
	}
	other, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	id, sealed, err := other.Seal([]byte("re-sealed secret"), bind)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kr.Open(id, sealed, bind)
	if err != nil || string(got) != "re-sealed secret" {
		t.Fatalf("open under the appended key: %q %v", got, err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed did not fire")
	}
	if kr.PrimaryID() != id || !kr.Holds(first) || !slices.Equal(kr.IDs(), []string{first, id}) {
		t.Fatalf("keys %v primary %s", kr.IDs(), kr.PrimaryID())
	}
	// A key nobody has still fails, without reloading forever.
	if _, err := kr.Open("kmissing", sealed, bind); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

// Run polls the file and reloads on a signal; a broken file keeps the keys
// held.
func TestReloaderRunAndBrokenFile(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	path := filepath.Join(t.TempDir(), "master.key")
	kr, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	held := kr.IDs()
	r := NewReloader(kr, path, nil)
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, time.Hour, hup) }()
	defer func() { cancel(); <-done }()

	if err := os.WriteFile(path, []byte("not a key!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); !errors.Is(err, ErrBadMasterKey) {
		t.Fatalf("broken file: %v", err)
	}
	if !slices.Equal(kr.IDs(), held) {
		t.Fatalf("a broken file changed the keys: %v", kr.IDs())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	id, err := AppendNewKey(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := kr.Changed()
	hup <- os.Interrupt
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not reload")
	}
	// The file now holds only the new key: the old one is gone too.
	if !slices.Equal(kr.IDs(), []string{id}) {
		t.Fatalf("keys %v, want [%s]", kr.IDs(), id)
	}
}

// Keys from PLUGS_MASTER_KEY cannot change under a running process: the
// reloader follows no file.
func TestReloaderIgnoresEnvironmentKeys(t *testing.T) {
	k, _ := GenerateKey()
	t.Setenv(EnvMasterKey, FormatKey(k))
	kr, err := Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReloader(kr, filepath.Join(t.TempDir(), "master.key"), nil)
	if r.File() != "" {
		t.Fatalf("follows %s", r.File())
	}
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
}

func TestReplaceReportsChange(t *testing.T) {
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	kr, _ := NewKeyring(a)
	if changed, err := kr.Replace(a); changed || err != nil {
		t.Fatalf("same keys: %v %v", changed, err)
	}
	if _, err := kr.Replace(Key{Raw: []byte("short")}); !errors.Is(err, ErrBadMasterKey) || kr.PrimaryID() != a.ID {
		t.Fatalf("bad key replaced the keyring: %v", err)
	}
	if changed, err := kr.Replace(a, b); !changed || err != nil || kr.PrimaryID() != b.ID {
		t.Fatalf("new key: %v %v %s", changed, err, kr.PrimaryID())
	}
}
