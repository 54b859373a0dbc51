package receiver_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A verified webhook whose required mapped header is not UTF-8 can never be stored
// as an event: it is answered 422 naming the field, not 503 on every
// retry. Its receipt, and that of an accepted webhook carrying such a
// header unmapped, reach the backbone under the id the answer gave.
func TestHeaderNotUTF8(t *testing.T) {
	ctx := context.Background()
	nsrv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsrv.Shutdown)
	nc, err := backbone.Connect(ctx, backbone.Options{URL: nsrv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sc := sourceFrom(t, stripeID, "stripe", secret)
	sc.TenantId = "0192d1a0-0000-7000-8000-0000000000aa"
	// Required: an optional field with such a value is left empty instead
	// (mapping's TestValueNotUTF8FailsNamingIt).
	sc.FieldMappings.CustomerId = &plugsv1.ValueRef{From: &plugsv1.ValueRef_Header{Header: "X-Customer"}, Required: true}
	rec := receipts.New(nc.JS, 0, slog.New(slog.DiscardHandler))
	runCtx, stop := context.WithCancel(ctx)
	go rec.Run(runCtx)
	f := serve(t, []*plugsv1.SourceConfig{sc}, &backbone.EventStore{JS: nc.JS}, pipeline.Options{},
		receiver.Options{Now: func() time.Time { return now }, Receipts: rec})

	h := stripeSigned(t, invoice, now, secret)
	h.Set("X-Customer", "cus_\xff")
	status, body, answer := f.post(t, stripeID, h, invoice)
	if status != 422 || body["cause"] != "mapping_failed" || body["field"] != "customer_id" {
		t.Fatalf("mapped header not UTF-8: %d %v", status, body)
	}
	rejected := answer.Get(receiver.ReceiptIDHeader)

	other := strings.Replace(invoice, "evt_1", "evt_2", 1)
	h = stripeSigned(t, other, now, secret)
	h.Set("X-Customer", "cus_1")
	h.Set("X-Note", "caf\xe9")
	if status, body, answer = f.post(t, stripeID, h, other); status != 200 {
		t.Fatalf("unmapped header not UTF-8: %d %v", status, body)
	}
	accepted := answer.Get(receiver.ReceiptIDHeader)

	stop()
	<-rec.Done()
	if rec.Dropped() != 0 {
		t.Fatalf("%d receipts dropped", rec.Dropped())
	}
	found := map[string]*plugsv1.Receipt{}
	s, err := nc.JS.Stream(ctx, backbone.ReceiptsStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("receipt %d: %v", seq, err)
		}
		r := &plugsv1.Receipt{}
		if err := proto.Unmarshal(m.Data, r); err != nil {
			t.Fatal(err)
		}
		found[r.GetId()] = r
	}
	if r := found[rejected]; r == nil || r.GetField() != "customer_id" || r.GetStatusCode() != 422 || string(r.GetBody()) != invoice {
		t.Fatalf("receipt %s of the rejected webhook: %v", rejected, r)
	}
	if r := found[accepted]; r == nil || r.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || !hasHeader(r, "X-Note", "caf\uFFFD") {
		t.Fatalf("receipt %s of the accepted webhook: %v", accepted, r)
	}
	if _, err := s.GetMsg(ctx, 3); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("a third receipt: %v", err)
	}
}

func hasHeader(r *plugsv1.Receipt, name, value string) bool {
	for _, h := range r.GetHeaders() {
		if http.CanonicalHeaderKey(h.GetName()) == name {
			return len(h.GetValues()) == 1 && h.GetValues()[0] == value
		}
	}
	return false
}
