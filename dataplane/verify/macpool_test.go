package verify_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// TestConcurrentVerificationsShareKeyedStates: requests to one source
// verified at once, right and wrong signatures mixed, each get the answer
// its own signature deserves while they take and hand back the keyed HMAC
// states of the source's two secrets.
func TestConcurrentVerificationsShareKeyedStates(t *testing.T) {
	v := mustCompile(t, stripeLike(), []*plugsv1.SigningSecret{
		{Id: "old", Value: []byte(otherSecret)}, {Id: "new", Value: []byte(testSecret)},
	})
	good := hexSig(testSecret, testNowTS, ".", testBody)
	alsoGood := hexSig(otherSecret, testNowTS, ".", testBody)
	bad := hexSig("neither", testNowTS, ".", testBody)
	var wg sync.WaitGroup
	errs := make(chan error, 8*300)
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				sig, want := good, error(nil)
				switch (w + i) % 3 {
				case 1:
					sig = alsoGood
				case 2:
					sig, want = bad, verify.ErrSignatureInvalid
				}
				req := newRequest("POST", "https://in.example/x", "application/json",
					headers("Stripe-Signature", "t="+testNowTS+",v1="+sig), testBody)
				if err := v.Verify(req, verify.Options{Now: testNow}); !errors.Is(err, want) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("verification gave %v", err)
	}
}
