package verify_test

import (
	"net/http"
	"testing"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// raceDetector is set when the tests run with -race.
var raceDetector bool

// An event costs the handshake check nothing: asking whether a request is a
// handshake neither allocates nor makes the caller's request escape, for a
// scheme without handshakes and for one whose handshakes are of another
// method; and verifying an HMAC allocates nothing either.
func TestEventsDoNotAllocate(t *testing.T) {
	if raceDetector {
		t.Skip("allocation counts vary under the race detector")
	}
	meta := stripeLike()
	meta.Handshake = plugsv1.SignatureScheme_HANDSHAKE_META_HUB_CHALLENGE
	h := http.Header{"Stripe-Signature": {"t=" + testNowTS + ",v1=" + hexSig(testSecret, testNowTS, ".", testBody)}}
	body := []byte(testBody)
	for name, scheme := range map[string]*plugsv1.SignatureScheme{"no handshake": stripeLike(), "GET handshake": meta} {
		v := mustCompile(t, scheme, secretsOf(testSecret))
		var doc payload.Doc
		allocs := testing.AllocsPerRun(100, func() {
			doc.Reset(body, jsonCT)
			req := verify.Request{Method: http.MethodPost, URL: testURL, Header: h, Body: &doc}
			if ans, err := v.Handshake(&req, "", false, verify.Options{Now: testNow}); ans != nil || err != nil {
				t.Fatal(ans, err)
			}
			if err := v.Verify(&req, verify.Options{Now: testNow}); err != nil {
				t.Fatal(err)
			}
			if ans, err := v.Handshake(&req, "", true, verify.Options{Now: testNow}); ans != nil || err != nil {
				t.Fatal(ans, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per event", name, allocs)
		}
	}
}
