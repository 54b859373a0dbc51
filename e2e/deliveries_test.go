package e2e

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A destination that fails with 500 and then recovers: each request the
// data plane made is in the destination's delivery log, newest first,
// with its status code and what became of the delivery; retrying the
// delivery from the log sends the event once more.
func TestDeliveryLogShowsRetriesThenDelivery(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	b.mu.Lock()
	b.fail = func(n int) bool { return n <= 2 }
	b.mu.Unlock()
	dest := w.destination(b.srv.URL, key, &plugsv1.RetryPolicy{
		InitialBackoff: durationpb.New(20 * time.Millisecond), MaxBackoff: durationpb.New(100 * time.Millisecond),
	})
	if code := w.send(src, invoice("evt_flaky")); code != 200 {
		t.Fatalf("answered %d", code)
	}
	waitFor(t, "delivered after two failures", func() bool { return b.count("evt_flaky") == 1 && w.settled(dest) })

	var log []*plugsv1.DeliveryAttempt
	waitFor(t, "three entries in the delivery log", func() bool {
		resp, err := w.dests.ListDeliveries(w.ctx, &plugsv1.ListDeliveriesRequest{Id: dest, ProviderEventId: "evt_flaky"})
		if err != nil {
			t.Fatal(err)
		}
		log = resp.GetDeliveries()
		return len(log) == 3
	})
	want := []struct {
		attempt int32
		status  int32
		outcome plugsv1.DeliveryAttempt_Outcome
	}{
		{3, 204, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED},
		{2, 500, plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
		{1, 500, plugsv1.DeliveryAttempt_OUTCOME_RETRYING},
	}
	usageID := log[0].GetUsageEventId()
	for i, a := range log {
		if a.GetAttempt() != want[i].attempt || a.GetStatusCode() != want[i].status || a.GetOutcome() != want[i].outcome ||
			a.GetUsageEventId() != usageID || a.GetSourceId() != src || a.GetEventType() != "invoice.paid" || a.GetDataPlane() != "dp" {
			t.Fatalf("entry %d: %v", i, a)
		}
		retrying := a.GetOutcome() == plugsv1.DeliveryAttempt_OUTCOME_RETRYING
		if retrying != (a.GetNextRetryTime() != nil) || retrying != strings.Contains(a.GetError(), "500") {
			t.Fatalf("entry %d: %v", i, a)
		}
	}
	retries, err := w.dests.ListDeliveries(w.ctx, &plugsv1.ListDeliveriesRequest{Id: dest, Outcome: plugsv1.DeliveryAttempt_OUTCOME_RETRYING})
	if err != nil || len(retries.GetDeliveries()) != 2 {
		t.Fatalf("retrying: %v %v", retries, err)
	}

	// The billing pipeline lost the event: it is sent once more, as the
	// same event.
	if _, err := w.dests.RetryDelivery(w.ctx, &plugsv1.RetryDeliveryRequest{Id: dest, UsageEventId: usageID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried delivery", func() bool { return b.count("evt_flaky") == 2 && w.settled(dest) })
	waitFor(t, "the retry in the delivery log", func() bool {
		resp, err := w.dests.ListDeliveries(w.ctx, &plugsv1.ListDeliveriesRequest{Id: dest, UsageEventId: usageID})
		if err != nil {
			t.Fatal(err)
		}
		log = resp.GetDeliveries()
		return len(log) == 4
	})
	if a := log[0]; a.GetAttempt() != 1 || a.GetStatusCode() != 204 || a.GetOutcome() != plugsv1.DeliveryAttempt_OUTCOME_DELIVERED {
		t.Fatalf("retried entry %v", a)
	}
}
