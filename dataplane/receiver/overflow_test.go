package receiver_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A receipts buffer that is full (its publisher stuck: here never started)
// drops receipts and counts them; every webhook is still answered at once
// and every accepted event stored.
func TestReceiptOverflowLosesNoEvent(t *testing.T) {
	now := time.Now()
	rec := receipts.New(nil, 2, slog.New(slog.DiscardHandler)) // room for 2, never published
	f := serve(t, []*plugsv1.SourceConfig{sourceFrom(t, stripeID, "stripe", secret)}, nil, pipeline.Options{}, receiver.Options{Receipts: rec})
	sink := f.sink

	const n = 50
	for i := range n {
		body := fmt.Sprintf(`{"id":"evt_%d","type":"invoice.paid","created":1686089970,"data":{"object":{"customer":"cus_1"}}}`, i)
		if status, resp, _ := f.post(t, stripeID, stripeSigned(t, body, now, secret), body); status != 200 {
			t.Fatalf("webhook %d: %d %v", i, status, resp)
		}
	}
	if got := sink.count(); got != n {
		t.Fatalf("%d of %d accepted events stored", got, n)
	}
	if got := rec.Dropped(); got != n-2 {
		t.Fatalf("%d receipts dropped, want %d", got, n-2)
	}
}
