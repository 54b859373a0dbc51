package verify_test

import (
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A signed request stays fresh for twice its scheme's tolerance (a
// timestamp may be that far behind or ahead); schemes without a timestamp
// never go stale and have no replay window.
func TestReplayWindow(t *testing.T) {
	for name, c := range map[string]struct {
		scheme *plugsv1.SignatureScheme
		want   time.Duration
	}{
		"default tolerance": {stripeLike(), 2*verify.DefaultTolerance + verify.ClockSkew},
		"5 s tolerance":     {paddleLike(), 10*time.Second + verify.ClockSkew},
		"no timestamp":      {githubLike(), 0},
		"token":             {&plugsv1.SignatureScheme{Algorithm: tokenAlg, TokenHeader: "X-Token"}, 0},
	} {
		v, err := verify.Compile(c.scheme, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := v.ReplayWindow(); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
}
