package e2e

import (
	"os"
	"testing"
)

// TestMain stops the browser the console's tests share once every test has
// run.
func TestMain(m *testing.M) {
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}
