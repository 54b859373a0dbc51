package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func TestStatsFromRollups(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testStatsFromRollups(t, d) })
	}
}

// testStatsFromRollups publishes receipts and delivery attempts of two
// tenants, some twice and some older than a day, and reads the overview
// and the per-source stats over REST.
func testStatsFromRollups(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	srcA, tenantA := w.source(w.keyA, "a1")
	quiet, _ := w.source(w.keyA, "a2")
	srcB, tenantB := w.source(w.keyB, "b1")

	now := time.Now().UTC()
	minute := now.Truncate(time.Minute)
	var rs []*plugsv1.Receipt
	add := func(src uuid.UUID, tenant uuid.UUID, at time.Time, outcome plugsv1.Receipt_Outcome, cause string) *plugsv1.Receipt {
		r := mkReceipt(tenant, src, at)
		r.Outcome, r.Cause = outcome, cause
		rs = append(rs, r)
		return r
	}
	// Two minutes ago: three accepted, one duplicate; this minute: two
	// signature_invalid, one mapping_failed, one filtered.
	for range 3 {
		add(srcA, tenantA, minute.Add(-2*time.Minute+time.Second), plugsv1.Receipt_OUTCOME_ACCEPTED, "")
	}
	add(srcA, tenantA, minute.Add(-2*time.Minute+2*time.Second), plugsv1.Receipt_OUTCOME_DUPLICATE, "")
	add(srcA, tenantA, minute, plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid")
	last := add(srcA, tenantA, minute.Add(time.Millisecond), plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid")
	add(srcA, tenantA, minute, plugsv1.Receipt_OUTCOME_REJECTED, "mapping_failed")
	add(srcA, tenantA, minute, plugsv1.Receipt_OUTCOME_FILTERED, "")
	// Outside the window, and another tenant's.
	add(srcA, tenantA, minute.Add(-25*time.Hour), plugsv1.Receipt_OUTCOME_ACCEPTED, "")
	add(srcB, tenantB, minute, plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid")
	w.publish(rs...)
	// The same receipts again, as after a lost acknowledgement: counted
	// once.
	w.publish(rs[0], last)
	w.waitListed(w.keyA, srcA, 9)
	w.waitListed(w.keyB, srcB, 1)
	// The second copies were published after everything else; once a
	// receipt published after them is listed, they were indexed.
	fence := add(quiet, tenantA, minute.Add(-time.Hour), plugsv1.Receipt_OUTCOME_ACCEPTED, "")
	w.publish(fence)
	w.waitListed(w.keyA, quiet, 1)

	code, body := w.rest(http.MethodGet, "/v1/overview", w.keyA, "")
	if code != http.StatusOK {
		t.Fatalf("overview: %d %s", code, body)
	}
	ov := &plugsv1.Overview{}
	if err := protojson.Unmarshal(body, ov); err != nil {
		t.Fatal(err)
	}
	want := &plugsv1.OutcomeCounts{Accepted: 4, Duplicate: 1, Filtered: 1, Rejected: 3}
	if !proto.Equal(ov.GetWebhooks(), want) {
		t.Errorf("webhooks %v, want %v", ov.GetWebhooks(), want)
	}
	if got := ov.GetEndTime().AsTime().Sub(ov.GetStartTime().AsTime()); got != 24*time.Hour {
		t.Errorf("window %v, want 24h", got)
	}
	if len(ov.GetMinutes()) != 3 {
		t.Fatalf("minutes %v, want 3", ov.GetMinutes())
	}
	if m := ov.GetMinutes()[1]; !m.GetStartTime().AsTime().Equal(minute.Add(-2*time.Minute)) ||
		!proto.Equal(m.GetCounts(), &plugsv1.OutcomeCounts{Accepted: 3, Duplicate: 1}) {
		t.Errorf("minute two ago: %v", m)
	}
	if m := ov.GetMinutes()[2]; !m.GetStartTime().AsTime().Equal(minute) ||
		!proto.Equal(m.GetCounts(), &plugsv1.OutcomeCounts{Rejected: 3, Filtered: 1}) {
		t.Errorf("this minute: %v", m)
	}
	causes := ov.GetRejectionCauses()
	if len(causes) != 2 || causes[0].GetCause() != "signature_invalid" || causes[0].GetCount() != 2 ||
		causes[1].GetCause() != "mapping_failed" || causes[1].GetCount() != 1 {
		t.Errorf("causes %v", causes)
	}
	if ov.DeadLetterCount == nil || ov.GetDeadLetterCount() != 0 {
		t.Errorf("dead letters %v, want 0", ov.DeadLetterCount)
	}

	// The per-source stats, with their last receive times.
	code, body = w.rest(http.MethodGet, "/v1/sources:batchGetStats?sourceIds="+srcA.String()+"&sourceIds="+quiet.String(), w.keyA, "")
	if code != http.StatusOK {
		t.Fatalf("source stats: %d %s", code, body)
	}
	st := &plugsv1.BatchGetSourceStatsResponse{}
	if err := protojson.Unmarshal(body, st); err != nil {
		t.Fatal(err)
	}
	if len(st.GetSourceStats()) != 2 {
		t.Fatalf("source stats %v", st)
	}
	a, q := st.GetSourceStats()[0], st.GetSourceStats()[1]
	if a.GetSourceId() != srcA.String() || !proto.Equal(a.GetWebhooks(), &plugsv1.OutcomeCounts{Accepted: 3, Duplicate: 1, Filtered: 1, Rejected: 3}) {
		t.Errorf("source a: %v", a)
	}
	if !a.GetLastReceiveTime().AsTime().Equal(last.GetReceiveTime().AsTime()) {
		t.Errorf("source a last received %v, want %v", a.GetLastReceiveTime().AsTime(), last.GetReceiveTime().AsTime())
	}
	if q.GetSourceId() != quiet.String() || q.GetWebhooks().GetAccepted() != 1 {
		t.Errorf("quiet source: %v", q)
	}

	// Another tenant's source is not found; bad ids name their field.
	code, body = w.rest(http.MethodGet, "/v1/sources:batchGetStats?sourceIds="+srcB.String(), w.keyA, "")
	if code != http.StatusNotFound {
		t.Errorf("other tenant's source: %d %s", code, body)
	}
	code, body = w.rest(http.MethodGet, "/v1/sources:batchGetStats?sourceIds="+srcA.String()+"&sourceIds=nope", w.keyA, "")
	if code != http.StatusBadRequest || !json.Valid(body) || !strings.Contains(string(body), `"source_ids[1]"`) {
		t.Errorf("bad id: %d %s", code, body)
	}
	// Tenant B sees its own only.
	code, body = w.rest(http.MethodGet, "/v1/overview", w.keyB, "")
	ovB := &plugsv1.Overview{}
	if err := protojson.Unmarshal(body, ovB); code != http.StatusOK || err != nil {
		t.Fatalf("overview b: %d %s", code, body)
	}
	if !proto.Equal(ovB.GetWebhooks(), &plugsv1.OutcomeCounts{Rejected: 1}) {
		t.Errorf("tenant b webhooks %v", ovB.GetWebhooks())
	}
	// Without a key, nothing.
	if code, _ := w.rest(http.MethodGet, "/v1/overview", "", ""); code != http.StatusUnauthorized {
		t.Errorf("overview without a key: %d", code)
	}
}

func TestOverviewDeliveriesAndDeadLetters(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.source(w.keyA, "a")
	destSvc := plugsv1.NewDestinationServiceClient(w.conn)
	mkDest := func(key, name string) (string, string) {
		d, err := destSvc.CreateDestination(as(key), &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
			DisplayName: name, Url: "https://billing.example.com/" + name, SharedKey: "shared-key-0123456789abcdef",
		}})
		if err != nil {
			t.Fatal(err)
		}
		row, err := w.db.Client.Destination.Get(viewer.System(context.Background()), uuid.MustParse(d.GetId()))
		if err != nil {
			t.Fatal(err)
		}
		return d.GetId(), row.TenantID.String()
	}
	d1, _ := mkDest(w.keyA, "one")
	d2, _ := mkDest(w.keyA, "two")
	dB, tenantB := mkDest(w.keyB, "b")
	ctx := context.Background()
	attempt := func(tenantID, destID string, outcome plugsv1.DeliveryAttempt_Outcome) {
		a := &plugsv1.DeliveryAttempt{
			Id: uuid.Must(uuid.NewV7()).String(), DestinationId: destID, UsageEventId: uuid.NewString(),
			SourceId: src.String(), Attempt: 1, AttemptTime: timestamppb.Now(), Outcome: outcome,
		}
		b, _ := proto.Marshal(a)
		if _, err := w.js.Publish(ctx, backbone.AttemptSubject(tenantID, destID), b); err != nil {
			t.Fatal(err)
		}
	}
	attempt(tenant.String(), d1, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED)
	attempt(tenant.String(), d1, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED)
	attempt(tenant.String(), d1, plugsv1.DeliveryAttempt_OUTCOME_RETRYING)
	attempt(tenant.String(), d1, plugsv1.DeliveryAttempt_OUTCOME_DEAD_LETTERED)
	attempt(tenantB, dB, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED)
	// Dead letters: two of d2's, one of tenant B's.
	for _, d := range []string{d2, d2, dB} {
		if _, err := w.js.Publish(ctx, backbone.DeadSubject(d), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var ov *plugsv1.Overview
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := w.rest(http.MethodGet, "/v1/overview", w.keyA, "")
		ov = &plugsv1.Overview{}
		if err := protojson.Unmarshal(body, ov); code != http.StatusOK || err != nil {
			t.Fatalf("overview: %d %s", code, body)
		}
		if ov.GetDeliveries().GetDelivered()+ov.GetDeliveries().GetRetrying()+ov.GetDeliveries().GetDeadLettered() == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never counted: %v", ov.GetDeliveries())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !proto.Equal(ov.GetDeliveries(), &plugsv1.DeliveryCounts{Delivered: 2, Retrying: 1, DeadLettered: 1}) {
		t.Errorf("deliveries %v", ov.GetDeliveries())
	}
	if ov.GetDeadLetterCount() != 2 {
		t.Errorf("dead letters %d, want 2 (tenant B's not counted)", ov.GetDeadLetterCount())
	}
	byID := map[string]*plugsv1.DestinationStats{}
	for _, d := range ov.GetDestinations() {
		byID[d.GetDestinationId()] = d
	}
	if len(byID) != 2 || byID[d1].GetDeliveries().GetDelivered() != 2 || byID[d1].GetDeadLetterCount() != 0 ||
		byID[d2].GetDeadLetterCount() != 2 || byID[dB] != nil {
		t.Errorf("destinations %v", ov.GetDestinations())
	}
}
