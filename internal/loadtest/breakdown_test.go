package loadtest

import (
	"testing"
	"time"
)

const traces = `File: plugs
Type: cpu
Duration: 5.01s, Total samples = 2.99s (59.70%)
-----------+-------------------------------------------------------
      70ms   internal/runtime/syscall/linux.Syscall6
             github.com/nats-io/nats-server/v2/server.(*client).readLoop
-----------+-------------------------------------------------------
     1.5s   crypto/sha256.block
             github.com/plugshq/plugs/dataplane/verify.(*Verifier).Verify
             github.com/plugshq/plugs/dataplane/pipeline.(*Pipeline).Handle
             net/http.(*conn).serve
-----------+-------------------------------------------------------
      30ms   github.com/nats-io/nats%2ego.(*Conn).publish
             github.com/plugshq/plugs/backbone.(*EventStore).Enqueue
             github.com/plugshq/plugs/dataplane/pipeline.(*Pipeline).Handle
-----------+-------------------------------------------------------
      20ms   runtime.futex
             runtime.findRunnable
-----------+-------------------------------------------------------
`

func TestBreakdown(t *testing.T) {
	got := map[string]time.Duration{}
	var sum float64
	for _, s := range Breakdown(traces) {
		got[s.Part] = s.CPU
		sum += s.Fraction
	}
	want := map[string]time.Duration{
		"ingest: verify the signature":                       1500 * time.Millisecond,
		"embedded NATS server":                               70 * time.Millisecond,
		"ingest: store the event in JetStream (client side)": 30 * time.Millisecond,
		partOther: 20 * time.Millisecond,
	}
	if len(got) != len(want) {
		t.Fatalf("parts %v, want %v", got, want)
	}
	for p, d := range want {
		if got[p] != d {
			t.Errorf("%s: %v, want %v", p, got[p], d)
		}
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("fractions add up to %v", sum)
	}
}
