package snapshotfile_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/snapshotfile"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, snapshotfile.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func source(id, secret string) *plugsv1.SourceConfig {
	return &plugsv1.SourceConfig{
		Id: id, TenantId: "tenant-1", TemplateId: "custom", MetricId: "m-" + id,
		Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: &plugsv1.SignatureScheme{
			Algorithm: plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256, Encoding: plugsv1.SignatureScheme_ENCODING_HEX,
			Header: "X-Signature", SignedParts: []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}},
		},
		Secrets: []*plugsv1.SigningSecret{
			{Id: "s1", Value: []byte(secret)},
			{Id: "s2", Value: []byte(secret + "-next")},
		},
		MaxBodyBytes: 4096,
		DedupWindow:  durationpb.New(3600e9),
	}
}

func testConfig(t *testing.T) *snapshot.Config {
	t.Helper()
	cfg, err := snapshot.Build(nil, "42", true, []*plugsv1.SourceConfig{
		source("a", "secret-a-0123456789"), source("b", "secret-b-0123456789"), source("c", "secret-c-0123456789"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func save(t *testing.T, key []byte) (string, *snapshot.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "snapshot.bin")
	cfg := testConfig(t)
	if err := snapshotfile.Save(path, key, cfg); err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

func TestRoundTrip(t *testing.T) {
	key := newKey(t)
	path, want := save(t, key)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("secret-a-0123456789")) {
		t.Fatal("secret in the clear on disk")
	}
	got, err := snapshotfile.Load(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != want.Version {
		t.Fatalf("version %q, want %q", got.Version, want.Version)
	}
	if len(got.Sources) != len(want.Sources) {
		t.Fatalf("%d sources, want %d", len(got.Sources), len(want.Sources))
	}
	for id, w := range want.Sources {
		g := got.Source(id)
		if g == nil {
			t.Fatalf("source %s lost", id)
		}
		if !proto.Equal(g.Config, w.Config) {
			t.Fatalf("source %s differs:\n got %v\nwant %v", id, g.Config, w.Config)
		}
		if g.Verifier == nil || g.Mapper == nil || g.MaxBodyBytes != 4096 {
			t.Fatalf("source %s not compiled", id)
		}
	}
	// Saving again replaces the file and leaves no temporary files behind.
	if err := snapshotfile.Save(path, key, got); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the snapshot", len(entries))
	}
}

func TestEmptyConfigRoundTrip(t *testing.T) {
	key := newKey(t)
	path := filepath.Join(t.TempDir(), "snapshot.bin")
	cfg, _ := snapshot.Build(nil, "7", true, nil, nil)
	if err := snapshotfile.Save(path, key, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := snapshotfile.Load(path, key)
	if err != nil || got.Version != "7" || len(got.Sources) != 0 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestWrongKey(t *testing.T) {
	path, _ := save(t, newKey(t))
	if _, err := snapshotfile.Load(path, newKey(t)); !errors.Is(err, snapshotfile.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

// rewrite changes the file in place, keeping its mode.
func rewrite(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEveryFlippedByteIsCorrupt(t *testing.T) {
	key := newKey(t)
	path, _ := save(t, key)
	orig, _ := os.ReadFile(path)
	// Every byte: the header, the nonce, the ciphertext and the tag.
	for i := range orig {
		rewrite(t, path, func([]byte) []byte {
			b := bytes.Clone(orig)
			b[i] ^= 0x01
			return b
		})
		if _, err := snapshotfile.Load(path, key); !errors.Is(err, snapshotfile.ErrCorrupt) {
			t.Fatalf("byte %d flipped: err = %v, want ErrCorrupt", i, err)
		}
	}
}

func TestTruncatedIsCorrupt(t *testing.T) {
	key := newKey(t)
	path, _ := save(t, key)
	orig, _ := os.ReadFile(path)
	for _, n := range []int{0, 1, 17, 18, 29, 30, 45, len(orig) / 2, len(orig) - 1} {
		rewrite(t, path, func([]byte) []byte { return orig[:n] })
		if _, err := snapshotfile.Load(path, key); !errors.Is(err, snapshotfile.ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
	rewrite(t, path, func([]byte) []byte { return append(bytes.Clone(orig), 0) })
	if _, err := snapshotfile.Load(path, key); !errors.Is(err, snapshotfile.ErrCorrupt) {
		t.Fatalf("extended: err = %v, want ErrCorrupt", err)
	}
}

func TestOtherFileIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot.bin")
	if err := os.WriteFile(path, []byte(`{"version":"1","sources":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshotfile.Load(path, newKey(t)); !errors.Is(err, snapshotfile.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestMissing(t *testing.T) {
	_, err := snapshotfile.Load(filepath.Join(t.TempDir(), "nope.bin"), newKey(t))
	if !errors.Is(err, snapshotfile.ErrNoSnapshot) {
		t.Fatalf("err = %v, want ErrNoSnapshot", err)
	}
}

func TestReadableByOthersRefused(t *testing.T) {
	key := newKey(t)
	path, _ := save(t, key)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := snapshotfile.Load(path, key)
		if !errors.Is(err, snapshotfile.ErrInsecureFile) {
			t.Fatalf("mode %v: err = %v, want ErrInsecureFile", mode, err)
		}
	}
	// Saving again replaces the exposed file with a private one.
	if err := snapshotfile.Save(path, key, testConfig(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshotfile.Load(path, key); err != nil {
		t.Fatal(err)
	}
}

func TestDirectoryIsNotASnapshot(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshotfile.Load(dir, newKey(t)); !errors.Is(err, snapshotfile.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestBadKeyLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot.bin")
	if err := snapshotfile.Save(path, make([]byte, 16), testConfig(t)); !errors.Is(err, snapshotfile.ErrBadKey) {
		t.Fatalf("Save: err = %v, want ErrBadKey", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file written with a bad key")
	}
	if _, err := snapshotfile.Load(path, nil); !errors.Is(err, snapshotfile.ErrBadKey) {
		t.Fatalf("Load: err = %v, want ErrBadKey", err)
	}
}

// assertIntact checks the old snapshot is still there and opens, and no
// temporary file was left behind.
func assertIntact(t *testing.T, path string, key []byte, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("old snapshot changed (err %v)", err)
	}
	if _, err := snapshotfile.Load(path, key); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Fatalf("left behind %s", e.Name())
		}
	}
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	key := newKey(t)
	path, _ := save(t, key)
	old, _ := os.ReadFile(path)
	next, _ := snapshot.Build(nil, "43", true, nil, nil)

	// The temporary file is created but cannot be written (as a full disk
	// would do); works as root too, unlike a read-only directory.
	snapshotfile.SetCreateTemp(t, func(dir, pattern string) (*os.File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		name := f.Name()
		f.Close()
		return os.Open(name) // read-only: Write fails
	})
	if err := snapshotfile.Save(path, key, next); err == nil {
		t.Fatal("Save succeeded through a read-only file")
	}
	assertIntact(t, path, key, old)
}

func TestUnwritableDirectoryKeepsOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories; TestFailedWriteKeepsOldFile covers the write failure")
	}
	key := newKey(t)
	path, _ := save(t, key)
	old, _ := os.ReadFile(path)
	dir := filepath.Dir(path)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	next, _ := snapshot.Build(nil, "43", true, nil, nil)
	if err := snapshotfile.Save(path, key, next); err == nil {
		t.Fatal("Save succeeded in a read-only directory")
	}
	assertIntact(t, path, key, old)
}

func TestSaveNil(t *testing.T) {
	if err := snapshotfile.Save(filepath.Join(t.TempDir(), "s"), newKey(t), nil); err == nil {
		t.Fatal("saved a nil configuration")
	}
}

func TestParseKey(t *testing.T) {
	key := newKey(t)
	enc := base64.StdEncoding.EncodeToString(key)
	got, err := snapshotfile.ParseKey("  " + enc + "\n")
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("ParseKey = %x, %v", got, err)
	}
	for name, in := range map[string]string{
		"empty":    "",
		"blank":    " \n",
		"16 bytes": base64.StdEncoding.EncodeToString(key[:16]),
		"33 bytes": base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1)),
		"url b64":  strings.NewReplacer("+", "-", "/", "_").Replace(enc) + "-_",
		"not b64":  "correct horse battery staple",
	} {
		_, err := snapshotfile.ParseKey(in)
		if !errors.Is(err, snapshotfile.ErrBadKey) {
			t.Fatalf("%s: err = %v, want ErrBadKey", name, err)
		}
		if in != "" && strings.TrimSpace(in) != "" && strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Fatalf("%s: error echoes the key", name)
		}
	}
}
