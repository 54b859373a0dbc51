package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// A receipt of each request travels from the data plane through the
// backbone to the control plane's index, and is found through the API
// with its outcome, cause and raw body.
func TestReceiptsReachTheAPI(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	if code := w.send(src, invoice("evt_ok")); code != 200 {
		t.Fatalf("answered %d", code)
	}
	// A forged signature.
	req, _ := http.NewRequest(http.MethodPost, w.ingest+"/v1/ingest/webhook/"+src, strings.NewReader(invoice("evt_forged")))
	req.Header.Set("Stripe-Signature", "t=1,v1=00")
	req.Header.Set("Authorization", "Bearer not-for-receipts")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var list *plugsv1.ListReceiptsResponse
	waitFor(t, "two receipts indexed", func() bool {
		list, err = w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src})
		return err == nil && len(list.GetReceipts()) == 2
	})
	rejected, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src, Cause: "signature_invalid"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected.GetReceipts()) != 1 {
		t.Fatalf("by cause: %v", rejected.GetReceipts())
	}
	full, err := w.receipts.GetReceipt(w.ctx, &plugsv1.GetReceiptRequest{Id: rejected.GetReceipts()[0].GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(full.GetBody()), "evt_forged") || full.GetStatusCode() != 401 {
		t.Fatalf("receipt %v", full)
	}
	for _, h := range full.GetHeaders() {
		for _, v := range h.GetValues() {
			if strings.Contains(v, "not-for-receipts") {
				t.Fatal("the Authorization header reached the receipt")
			}
		}
	}
	accepted, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src, Outcome: plugsv1.Receipt_OUTCOME_ACCEPTED})
	if err != nil || len(accepted.GetReceipts()) != 1 || accepted.GetReceipts()[0].GetProviderEventId() != "evt_ok" {
		t.Fatalf("accepted: %v %v", accepted, err)
	}
}

// The case replay exists for: a webhook rejected because the source had the
// wrong secret is found by its cause, the secret is fixed, and the replay
// is accepted and delivered once; replaying it again is a duplicate.
func TestFixTheSecretThenReplay(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)

	// The provider signs with a secret the source does not have yet.
	const providerSecret = "whsec_the_right_one_0123456789"
	body := invoice("evt_replayed")
	tpl, _ := templates.MustBuiltin().Get("stripe")
	s, err := verify.Sign(tpl.GetSignatureScheme(), providerSecret, verify.Message{Body: []byte(body)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, w.ingest+"/v1/ingest/webhook/"+src, strings.NewReader(body))
	req.Header = s.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("answered %d", resp.StatusCode)
	}
	var found *plugsv1.ListReceiptsResponse
	waitFor(t, "the rejected receipt", func() bool {
		found, err = w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src, Cause: "signature_invalid"})
		return err == nil && len(found.GetReceipts()) == 1
	})
	if _, err := w.sources.RotateSecret(w.ctx, &plugsv1.RotateSecretRequest{Id: src, Secret: providerSecret}); err != nil {
		t.Fatal(err)
	}
	var replay *plugsv1.ReplayReceiptResponse
	waitFor(t, "a replay with the new secret accepted", func() bool {
		replay, err = w.receipts.ReplayReceipt(w.ctx, &plugsv1.ReplayReceiptRequest{Id: found.GetReceipts()[0].GetId()})
		return err == nil && replay.GetReceipt().GetOutcome() == plugsv1.Receipt_OUTCOME_ACCEPTED
	})
	if !replay.GetReceipt().GetReplay() {
		t.Fatal("the replay's receipt is not marked as a replay")
	}
	waitFor(t, "delivered", func() bool { return b.count("evt_replayed") == 1 && w.settled(dest) })
	again, err := w.receipts.ReplayReceipt(w.ctx, &plugsv1.ReplayReceiptRequest{Id: found.GetReceipts()[0].GetId()})
	if err != nil || again.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_DUPLICATE {
		t.Fatalf("second replay: %v %v", again, err)
	}
	waitFor(t, "the replays indexed", func() bool {
		list, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src})
		n := 0
		for _, r := range list.GetReceipts() {
			if r.GetReplay() {
				n++
			}
		}
		return err == nil && n >= 2
	})
	if c := b.count("evt_replayed"); c != 1 {
		t.Fatalf("delivered %d times", c)
	}
}
