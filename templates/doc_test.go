package templates

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/providers.md from the templates")

// docs/providers.md is generated from the templates; this fails when a
// template changed and the document was not regenerated.
func TestProvidersDoc(t *testing.T) {
	const path = "../docs/providers.md"
	want := ProvidersDoc(MustBuiltin())
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./templates -run TestProvidersDoc -update", path)
	}
	for _, c := range Categories() {
		found := false
		for _, ct := range categoryTitles {
			found = found || ct.id == c
		}
		if !found {
			t.Errorf("category %q has no title in the document", c)
		}
	}
}
