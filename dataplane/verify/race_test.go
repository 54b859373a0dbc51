//go:build race

package verify_test

// The race detector drops sync.Pool items at random, so allocation counts
// vary from run to run under it.
func init() { raceDetector = true }
