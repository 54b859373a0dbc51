package receiver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A receipts buffer that is full (its publisher stuck: here never started)
// drops receipts and counts them; every webhook is still answered at once
// and every accepted event stored.
func TestReceiptOverflowLosesNoEvent(t *testing.T) {
	now := time.Now()
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{sourceFrom(t, stripeID, "stripe", secret)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	sink := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := receipts.New(nil, 2, log) // room for 2, never published
	rc := receiver.New(pipeline.New(store, sink, pipeline.Options{Log: log}), receiver.Options{Log: log, Receipts: rec})
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", Store: store, Ingest: rc, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	f := &fixture{url: "http://" + srv.Addr, sink: sink, srv: srv}

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
