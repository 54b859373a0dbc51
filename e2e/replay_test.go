package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The case bulk replay exists for: a source configured with the wrong
// secret rejects every webhook; they are found by their cause, the secret
// is fixed, and one bulk replay by that filter accepts them all, each
// delivered to the destination once. Replaying them in bulk again finds
// every event stored already.
func TestFixTheSecretThenReplayInBulk(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)

	// The provider signs with a secret the source does not have yet.
	const providerSecret = "whsec_the_right_one_0123456789"
	const n = 8
	var events []string
	for i := range n {
		id := fmt.Sprintf("evt_bulk_%d", i)
		events = append(events, id)
		if code := w.sendSigned(src, providerSecret, invoice(id)); code != 401 {
			t.Fatalf("%s answered %d", id, code)
		}
	}
	filter := &plugsv1.ReplayReceiptsRequest{SourceId: src, Cause: "signature_invalid"}
	var found *plugsv1.ListReceiptsResponse
	waitFor(t, "the rejected receipts", func() bool {
		var err error
		found, err = w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src, Cause: filter.GetCause()})
		return err == nil && len(found.GetReceipts()) == n
	})
	if b.distinct() != 0 {
		t.Fatal("a rejected webhook was delivered")
	}

	if _, err := w.sources.RotateSecret(w.ctx, &plugsv1.RotateSecretRequest{Id: src, Secret: providerSecret}); err != nil {
		t.Fatal(err)
	}
	// The data plane runs what the control plane serves: once it has the
	// new secret, so has the control plane that replays.
	waitFor(t, "the new secret in the configuration", func() bool {
		return slices.ContainsFunc(w.store.Load().Source(src).Config.GetSecrets(), func(s *plugsv1.SigningSecret) bool {
			return bytes.Equal(s.GetValue(), []byte(providerSecret))
		})
	})

	op, err := w.receipts.ReplayReceipts(w.ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	if op.GetState() != plugsv1.ReplayOperation_STATE_RUNNING || op.GetTotalCount() != n {
		t.Fatalf("started %v", op)
	}
	done := w.waitReplay(op.GetId())
	if done.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED || done.GetProcessedCount() != n ||
		done.GetAcceptedCount() != n || done.GetTotalCount() != n {
		t.Fatalf("bulk replay ended %v", done)
	}
	waitFor(t, "every replayed event delivered", func() bool { return b.distinct() == n && w.settled(dest) })
	for _, id := range events {
		if c := b.count(id); c != 1 {
			t.Fatalf("%s delivered %d times", id, c)
		}
	}

	// Again: the same receipts are selected (never the replays' own), and
	// every event is a duplicate.
	again, err := w.receipts.ReplayReceipts(w.ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	done = w.waitReplay(again.GetId())
	if done.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED || done.GetTotalCount() != n ||
		done.GetDuplicateCount() != n || done.GetAcceptedCount() != 0 {
		t.Fatalf("second bulk replay ended %v", done)
	}
	waitFor(t, "the replays indexed", func() bool {
		list, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src, PageSize: 100})
		replays := 0
		for _, r := range list.GetReceipts() {
			if r.GetReplay() {
				replays++
			}
		}
		return err == nil && replays == 2*n
	})
	time.Sleep(200 * time.Millisecond)
	if !w.settled(dest) || b.distinct() != n {
		t.Fatalf("%d events delivered after the second replay", b.distinct())
	}
	for _, id := range events {
		if c := b.count(id); c != 1 {
			t.Fatalf("%s delivered %d times", id, c)
		}
	}
}

// Bypassing dedup stores an original webhook once more, not once more per
// click: the copy's id names the original receipt, so a repeated bypass,
// single or bulk, is a duplicate of it; and a replay's own receipt is not
// replayed (each of its replays would name a new receipt, and bill again),
// the error names the original instead. One webhook is billed at most twice.
func TestBypassDedupStoresOneCopyPerOriginal(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)
	if code := w.send(src, invoice("evt_once")); code != 200 {
		t.Fatalf("answered %d", code)
	}
	var orig *plugsv1.Receipt
	waitFor(t, "the receipt", func() bool {
		list, err := w.receipts.ListReceipts(w.ctx, &plugsv1.ListReceiptsRequest{SourceId: src})
		if err != nil || len(list.GetReceipts()) != 1 {
			return false
		}
		orig = list.GetReceipts()[0]
		return true
	})
	bypass := func(id string) (*plugsv1.Receipt, error) {
		resp, err := w.receipts.ReplayReceipt(w.ctx, &plugsv1.ReplayReceiptRequest{Id: id, BypassDedup: true})
		return resp.GetReceipt(), err
	}
	first, err := bypass(orig.GetId())
	if err != nil || first.GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED {
		t.Fatalf("first bypass: %v %v", first, err)
	}
	if again, err := bypass(orig.GetId()); err != nil || again.GetOutcome() != plugsv1.Receipt_OUTCOME_DUPLICATE {
		t.Fatalf("second bypass of the same receipt: %v %v", again, err)
	}
	waitFor(t, "the replay's receipt indexed", func() bool {
		_, err := w.receipts.GetReceipt(w.ctx, &plugsv1.GetReceiptRequest{Id: first.GetId()})
		return err == nil
	})
	for _, bypassDedup := range []bool{true, false} {
		_, err := w.receipts.ReplayReceipt(w.ctx, &plugsv1.ReplayReceiptRequest{Id: first.GetId(), BypassDedup: bypassDedup})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), orig.GetId()) {
			t.Fatalf("replay of a replay (bypass %v): %v", bypassDedup, err)
		}
	}
	// In bulk: the original is selected, never the replays, and its copy
	// is stored already.
	op, err := w.receipts.ReplayReceipts(w.ctx, &plugsv1.ReplayReceiptsRequest{SourceId: src, BypassDedup: true})
	if err != nil {
		t.Fatal(err)
	}
	if done := w.waitReplay(op.GetId()); done.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED ||
		done.GetTotalCount() != 1 || done.GetDuplicateCount() != 1 {
		t.Fatalf("bulk bypass ended %v", done)
	}
	waitFor(t, "delivered", func() bool { return b.distinct() == 2 && w.settled(dest) })
	if b.count("evt_once") != 1 || b.count("evt_once#replay:"+orig.GetId()) != 1 {
		t.Fatalf("delivered %v", b.byEvent)
	}
}

// waitReplay polls a bulk replay until it ends, checking that its progress
// only grows and never passes its total.
func (w *world) waitReplay(id string) *plugsv1.ReplayOperation {
	w.t.Helper()
	var op *plugsv1.ReplayOperation
	var last int32
	waitFor(w.t, "bulk replay "+id, func() bool {
		var err error
		op, err = w.receipts.GetReplayOperation(w.ctx, &plugsv1.GetReplayOperationRequest{Id: id})
		if err != nil {
			w.t.Fatal(err)
		}
		if p := op.GetProcessedCount(); p < last || p > op.GetTotalCount() {
			w.t.Fatalf("progress %d after %d, of %d", p, last, op.GetTotalCount())
		}
		last = op.GetProcessedCount()
		return op.GetState() != plugsv1.ReplayOperation_STATE_RUNNING
	})
	return op
}
