package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/plugshq/plugs/controlplane/auth"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// createSource creates a source and waits for the data plane to have it.
func (w *world) createSource(src *plugsv1.Source) string {
	w.t.Helper()
	created, err := w.sources.CreateSource(w.ctx, &plugsv1.CreateSourceRequest{Source: src})
	if err != nil {
		w.t.Fatal(err)
	}
	waitFor(w.t, "source on the data plane", func() bool { return w.store.Load().Source(created.GetId()) != nil })
	return created.GetId()
}

func (w *world) sendTest(id string, body []byte) *plugsv1.SendTestEventResponse {
	w.t.Helper()
	resp, err := w.sources.SendTestEvent(w.ctx, &plugsv1.SendTestEventRequest{Id: id, Body: body})
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

// A test event goes through the real ingest endpoint signed with the
// source's secret: it is accepted, its receipt comes back with the
// answer, and the next one is accepted too, with an event id of its own.
func TestSendTestEvent(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	first := w.sendTest(src, nil)
	second := w.sendTest(src, nil)
	for i, resp := range []*plugsv1.SendTestEventResponse{first, second} {
		rc := resp.GetReceipt()
		if resp.GetStatusCode() != 200 || resp.GetResponseBody() != `{"received":true}` || !strings.HasPrefix(resp.GetProviderEventId(), "evt_test_") {
			t.Fatalf("test event %d: %v", i, resp)
		}
		if rc == nil || rc.GetId() != resp.GetReceiptId() || rc.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED ||
			rc.GetProviderEventId() != resp.GetProviderEventId() || rc.GetSourceId() != src || rc.GetEventType() != "invoice.paid" {
			t.Fatalf("test event %d: receipt %v", i, rc)
		}
		// The secret signs the request; it appears nowhere in the answer.
		b, _ := protojson.Marshal(resp)
		if strings.Contains(string(b), stripeSecret) || strings.Contains(string(b), strings.TrimPrefix(stripeSecret, "whsec_")) {
			t.Fatalf("the answer holds the secret: %s", b)
		}
	}
	if first.GetProviderEventId() == second.GetProviderEventId() {
		t.Fatal("two test events share an event id")
	}
	// The receipt is the one the index serves.
	got, err := w.receipts.GetReceipt(w.ctx, &plugsv1.GetReceiptRequest{Id: first.GetReceiptId()})
	if err != nil || got.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || !strings.Contains(string(got.GetBody()), first.GetProviderEventId()) {
		t.Fatalf("indexed receipt %v %v", got, err)
	}

	// A body of the caller's own is sent as it is: its event id counts,
	// so sending it twice is a duplicate.
	body := []byte(invoice("evt_mine"))
	mine := w.sendTest(src, body)
	if mine.GetProviderEventId() != "evt_mine" || mine.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED {
		t.Fatalf("own body: %v", mine)
	}
	if again := w.sendTest(src, body); again.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_DUPLICATE || again.GetStatusCode() != 200 {
		t.Fatalf("own body again: %v", again)
	}
}

// A test event with a body of the caller's own, carrying the id of a real
// event the provider has yet to send, is marked test on its receipt and on
// the usage event the destination gets, and does not take the real event's
// place: the provider's webhook with that id is accepted and delivered,
// not dropped as a duplicate.
func TestTestEventDoesNotShadowTheProvidersEvent(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)

	resp := w.sendTest(src, []byte(invoice("evt_real")))
	if rc := resp.GetReceipt(); rc.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || !rc.GetTest() || rc.GetProviderEventId() != "evt_real" {
		t.Fatalf("test event receipt %v", rc)
	}
	if code := w.send(src, invoice("evt_real")); code != 200 {
		t.Fatalf("the provider's event answered %d", code)
	}
	waitFor(t, "both delivered", func() bool { return b.count("evt_real") == 1 && b.count("test evt_real") == 1 && w.settled(dest) })

	// The receipts say which was which, in the list as in the receipt.
	var real *plugsv1.Receipt
	waitFor(t, "both receipts indexed", func() bool {
		list, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src})
		if err != nil || len(list.GetReceipts()) != 2 {
			return false
		}
		for _, rc := range list.GetReceipts() {
			if !rc.GetTest() {
				real = rc
			}
		}
		return real != nil
	})
	if real.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED || real.GetProviderEventId() != "evt_real" {
		t.Fatalf("the provider's receipt %v", real)
	}

	// Each is still a duplicate of itself.
	if again := w.sendTest(src, []byte(invoice("evt_real"))); again.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_DUPLICATE {
		t.Fatalf("test event again: %v", again.GetReceipt())
	}
	if code := w.send(src, invoice("evt_real")); code != 200 {
		t.Fatalf("the provider's retry answered %d", code)
	}
	waitFor(t, "settled", func() bool { return w.settled(dest) })
	if b.count("evt_real") != 1 || b.count("test evt_real") != 1 {
		t.Fatalf("delivered %d real and %d test events", b.count("evt_real"), b.count("test evt_real"))
	}
}

// A source whose filter drops the sample's event type shows it: the test
// event is answered 200 and its receipt says filtered.
func TestTestEventFiltered(t *testing.T) {
	w := start(t)
	src := w.createSource(&plugsv1.Source{
		DisplayName: "subscriptions only", TemplateId: "stripe", MetricId: "subs", Secret: stripeSecret,
		EventFilter: &plugsv1.EventFilter{EventTypes: []string{"customer.subscription.*"}},
	})
	resp := w.sendTest(src, nil)
	if resp.GetStatusCode() != 200 || resp.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_FILTERED {
		t.Fatalf("%v", resp)
	}
}

// Another tenant cannot send a test event to a source, nor read its
// receipt; a scheme whose secret cannot sign (Ed25519 holds the public
// key) and a disabled source are refused before anything is sent.
func TestTestEventRefusals(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	resp := w.sendTest(src, nil)

	_, otherKey, err := auth.Bootstrap(context.Background(), w.db.Client, "other", "k")
	if err != nil {
		t.Fatal(err)
	}
	other := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+otherKey)
	if _, err := w.sources.SendTestEvent(other, &plugsv1.SendTestEventRequest{Id: src}); status.Code(err) != codes.NotFound {
		t.Fatalf("another tenant's test event: %v", err)
	}
	if _, err := w.receipts.GetReceipt(other, &plugsv1.GetReceiptRequest{Id: resp.GetReceiptId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("another tenant's receipt: %v", err)
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	discord := w.createSource(&plugsv1.Source{DisplayName: "discord", TemplateId: "discord", MetricId: "m", Secret: hex.EncodeToString(pub)})
	_, err = w.sources.SendTestEvent(w.ctx, &plugsv1.SendTestEventRequest{Id: discord})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Ed25519 source: %v", err)
	}
	off := w.createSource(&plugsv1.Source{DisplayName: "off", TemplateId: "stripe", MetricId: "m", Secret: stripeSecret,
		Status: plugsv1.Source_STATUS_DISABLED})
	if _, err := w.sources.SendTestEvent(w.ctx, &plugsv1.SendTestEventRequest{Id: off}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("disabled source: %v", err)
	}
	if _, err := w.sources.SendTestEvent(w.ctx, &plugsv1.SendTestEventRequest{Id: "0192d1a0-0000-7000-8000-0000000000ff"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown source: %v", err)
	}
}
