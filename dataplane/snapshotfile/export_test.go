package snapshotfile

import (
	"os"
	"testing"
)

// SetCreateTemp replaces how Save creates its temporary file for the rest of
// the test.
func SetCreateTemp(t testing.TB, fn func(dir, pattern string) (*os.File, error)) {
	old := createTemp
	createTemp = fn
	t.Cleanup(func() { createTemp = old })
}
