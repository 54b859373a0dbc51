package console

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The committed bundle must be what the committed sources build. Node is
// not needed to check it: console/scripts/stamp.mjs records, at build time,
// a hash of every source the build reads and the hash of every file it
// wrote (dist/build.json), and this test recomputes both. A source edited
// without `make ui`, an API change whose generated types were not rebuilt,
// or a bundle file edited by hand fails here. .ci/run also rebuilds the
// bundle from the lockfile and compares it byte for byte.

// sourceFiles lists, relative to the repository root, what the build reads;
// it must match the list in console/scripts/stamp.mjs.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	files := []string{
		"console/package.json",
		"console/package-lock.json",
		"console/tsconfig.json",
		"console/vite.config.ts",
		"console/index.html",
		"controlplane/openapi/swagger/plugs.swagger.json",
	}
	for _, dir := range []string{"scripts", "src", "public"} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files = append(files, "console/"+filepath.ToSlash(p))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(files)
	return files
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestBundleIsBuiltFromTheSources(t *testing.T) {
	m, err := readManifest(os.DirFS("dist"))
	if err != nil {
		t.Fatalf("console/dist/build.json: %v (run make ui)", err)
	}
	h := sha256.New()
	for _, p := range sourceFiles(t) {
		b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(p + "\x00" + sha(b) + "\n"))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.Sources {
		t.Fatalf("console/dist was built from other sources than the ones here (the console's sources or the OpenAPI document changed): run make ui and commit console/dist")
	}
	var onDisk []string
	err = fs.WalkDir(os.DirFS("dist"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == manifestFile {
			return err
		}
		onDisk = append(onDisk, p)
		b, err := os.ReadFile(filepath.Join("dist", filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		if want, ok := m.Files[p]; !ok {
			t.Errorf("dist/%s is not part of the build: run make ui", p)
		} else if sha(b) != want {
			t.Errorf("dist/%s differs from what the build wrote: run make ui", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range m.Files {
		if !slices.Contains(onDisk, p) {
			t.Errorf("dist/%s is missing: run make ui", p)
		}
	}
}

// TestBundleNeedsNoUnsafeInline: the page the policy protects has no inline
// script, style or event handler, which the policy would block.
func TestBundleNeedsNoUnsafeInline(t *testing.T) {
	b, err := os.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := strings.ToLower(string(b))
	for i := 0; ; {
		j := strings.Index(html[i:], "<script")
		if j < 0 {
			break
		}
		tag := html[i+j : i+j+strings.Index(html[i+j:], ">")]
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script in index.html: %s", tag)
		}
		i += j + 1
	}
	for _, bad := range []string{"<style", " style=", " onclick=", " onload=", "javascript:", "http://", "https://"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q: the CSP blocks it, or it reaches another origin", bad)
		}
	}
}

// maxScriptGzip is the budget of the console's JavaScript, gzipped.
const maxScriptGzip = 150 << 10

func TestBundleScriptBudget(t *testing.T) {
	m, err := readManifest(os.DirFS("dist"))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for name := range m.Files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("dist", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		total += len(gzipped(b))
	}
	if total == 0 || total > maxScriptGzip {
		t.Fatalf("the console's JavaScript is %d bytes gzipped; the budget is %d", total, maxScriptGzip)
	}
	t.Logf("JavaScript: %d bytes gzipped of %d", total, maxScriptGzip)
}
