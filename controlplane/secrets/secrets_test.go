package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKeyring(t *testing.T) (*Keyring, Key) {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr, k
}

var bind = Binding{TenantID: "t1", SourceID: "s1", SecretID: "x1"}

func TestSealOpenRoundTrip(t *testing.T) {
	kr, _ := testKeyring(t)
	plain := []byte("whsec_super-secret-value")
	id, sealed, err := kr.Seal(plain, bind)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := kr.Open(id, sealed, bind)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	// A fresh nonce each time: the same secret never seals the same way.
	_, sealed2, _ := kr.Seal(plain, bind)
	if bytes.Equal(sealed, sealed2) || bytes.Equal(sealed[:12], sealed2[:12]) {
		t.Fatal("nonce reused")
	}
}

func TestOpenFailsWhenMovedOrTampered(t *testing.T) {
	kr, _ := testKeyring(t)
	plain := []byte("a-secret-for-source-one")
	id, sealed, _ := kr.Seal(plain, bind)
	moved := []Binding{
		{TenantID: "t2", SourceID: "s1", SecretID: "x1"},
		{TenantID: "t1", SourceID: "s2", SecretID: "x1"},
		{TenantID: "t1", SourceID: "s1", SecretID: "x2"},
		// Separator confusion must not let fields slide into each other.
		{TenantID: "t1s1", SourceID: "", SecretID: "x1"},
	}
	for _, b := range moved {
		if _, err := kr.Open(id, sealed, b); !errors.Is(err, ErrOpen) {
			t.Errorf("opened under %+v: %v", b, err)
		}
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if _, err := kr.Open(id, tampered, bind); !errors.Is(err, ErrOpen) {
			t.Fatalf("tampered byte %d opened: %v", i, err)
		}
	}
	if _, err := kr.Open(id, sealed[:10], bind); !errors.Is(err, ErrOpen) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := kr.Open("kunknown", sealed, bind); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestErrorsNeverCarryPlaintext(t *testing.T) {
	kr, _ := testKeyring(t)
	plain := []byte("never-print-this-secret")
	id, sealed, _ := kr.Seal(plain, bind)
	sealed[len(sealed)-1] ^= 1
	_, err := kr.Open(id, sealed, bind)
	if err == nil || strings.Contains(err.Error(), string(plain)) {
		t.Fatalf("err %v", err)
	}
}

func TestKeyringRotation(t *testing.T) {
	old, _ := GenerateKey()
	kr1, _ := NewKeyring(old)
	id1, sealed, _ := kr1.Seal([]byte("s3cret-value-0001"), bind)
	next, _ := GenerateKey()
	kr2, err := NewKeyring(old, next)
	if err != nil {
		t.Fatal(err)
	}
	if kr2.PrimaryID() != next.ID {
		t.Fatalf("primary %s, want the last key %s", kr2.PrimaryID(), next.ID)
	}
	if _, err := kr2.Open(id1, sealed, bind); err != nil {
		t.Fatalf("old key must still open: %v", err)
	}
	id2, _, _ := kr2.Seal([]byte("x"), bind)
	if id2 != next.ID {
		t.Fatalf("sealed under %s, want %s", id2, next.ID)
	}
}

func TestParseKeysAndLoad(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	b64 := base64.StdEncoding.EncodeToString(raw)
	keys, err := ParseKeys("# comment\nmine:" + b64 + "\n" + b64)
	if err != nil || len(keys) != 2 || keys[0].ID != "mine" || keys[1].ID != "" {
		t.Fatalf("%+v %v", keys, err)
	}
	if _, err := NewKeyring(keys...); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKeys("not base64!"); !errors.Is(err, ErrBadMasterKey) || strings.Contains(err.Error(), "not base64!") {
		t.Fatalf("bad key error: %v", err)
	}
	if _, err := NewKeyring(Key{Raw: []byte("short")}); !errors.Is(err, ErrBadMasterKey) {
		t.Fatalf("short key: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	t.Setenv(EnvMasterKey, "")
	if _, err := Load(path, false); err == nil {
		t.Fatal("missing key file must fail without create")
	}
	kr, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", info.Mode(), err)
	}
	again, err := Load(path, true)
	if err != nil || again.PrimaryID() != kr.PrimaryID() {
		t.Fatal("reloading must give the same key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, false); !errors.Is(err, ErrBadMasterKey) {
		t.Fatalf("world-readable key file accepted: %v", err)
	}
	t.Setenv(EnvMasterKey, b64)
	fromEnv, err := Load("", false)
	if err != nil || fromEnv.PrimaryID() != KeyID(raw) {
		t.Fatalf("env key: %v", err)
	}
}
