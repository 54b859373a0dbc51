package e2e

import (
	"net/http"
	"strings"
	"testing"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
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
