package forward_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// logged reads the destination's delivery log from the attempts stream,
// in publish order, with each entry's headers.
func (e *env) logged(tenant, destID string) ([]*plugsv1.DeliveryAttempt, []*jetstream.RawStreamMsg) {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.conn.JS.Stream(ctx, backbone.AttemptsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*plugsv1.DeliveryAttempt
	var raws []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(backbone.AttemptSubject(tenant, destID)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, raws
		}
		if err != nil {
			e.t.Fatal(err)
		}
		a := &plugsv1.DeliveryAttempt{}
		if err := proto.Unmarshal(raw.Data, a); err != nil {
			e.t.Fatal(err)
		}
		out, raws = append(out, a), append(raws, raw)
		seq = raw.Sequence + 1
	}
}

// Every attempt reaches the delivery log, filed under its tenant and
// destination, with what the destination answered and what became of the
// delivery; the data plane's attempt records carry the same.
func TestAttemptLogPublishesEveryAttempt(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	e.dests.add(destination("d1", "t1", r, "k"))
	log := forward.NewAttemptLog(e.conn.JS, "dp-1", 0, nil)
	ctx, stop := context.WithCancel(context.Background())
	go log.Run(ctx)
	e.start(forward.Options{OnAttempt: log.Record})

	ids := e.put("t1", "src", "x", 1)
	e.settled("d1")
	r.exactlyOnce(ids)
	var entries []*plugsv1.DeliveryAttempt
	var raws []*jetstream.RawStreamMsg
	eventually(t, 10*time.Second, func() bool {
		entries, raws = e.logged("t1", "d1")
		return len(entries) == 3
	}, "the delivery log does not hold 3 entries")
	stop()
	<-log.Done()
	if log.Published() != 3 || log.Dropped() != 0 {
		t.Fatalf("published %d, dropped %d", log.Published(), log.Dropped())
	}

	recorded := e.attemptsFor("d1")
	wantOutcomes := []plugsv1.DeliveryAttempt_Outcome{plugsv1.DeliveryAttempt_OUTCOME_RETRYING,
		plugsv1.DeliveryAttempt_OUTCOME_RETRYING, plugsv1.DeliveryAttempt_OUTCOME_DELIVERED}
	seen := map[string]bool{}
	for i, a := range entries {
		rec := recorded[i]
		if a.GetId() != rec.ID || seen[a.GetId()] || raws[i].Header.Get("Nats-Msg-Id") != a.GetId() {
			t.Fatalf("entry %d id %q, recorded %q", i, a.GetId(), rec.ID)
		}
		seen[a.GetId()] = true
		if a.GetDestinationId() != "d1" || a.GetUsageEventId() != ids[0] || a.GetProviderEventId() != "x-0" ||
			a.GetEventType() != "invoice.paid" || a.GetSourceId() != "src" || a.GetDataPlane() != "dp-1" ||
			a.GetAttempt() != int32(i+1) || a.GetOutcome() != wantOutcomes[i] {
			t.Fatalf("entry %d: %v", i, a)
		}
		if rec.TenantID != "t1" || rec.SourceID != "src" || rec.ProviderEventID != "x-0" || rec.EventType != "invoice.paid" {
			t.Fatalf("attempt record %d: %+v", i, rec)
		}
		if !a.GetAttemptTime().AsTime().Equal(rec.Time) || a.GetLatency().AsDuration() != rec.Latency {
			t.Fatalf("entry %d time %v latency %v, recorded %v %v", i, a.GetAttemptTime().AsTime(), a.GetLatency().AsDuration(), rec.Time, rec.Latency)
		}
		if raws[i].Header.Get(forward.HeaderTenantID) != "t1" ||
			raws[i].Header.Get(forward.HeaderDeliverySeq) != strconv.FormatUint(rec.DeliverySeq, 10) || rec.DeliverySeq == 0 {
			t.Fatalf("entry %d headers %v, delivery seq %d", i, raws[i].Header, rec.DeliverySeq)
		}
		if i < 2 {
			if a.GetStatusCode() != 500 || !strings.Contains(a.GetError(), "500") || a.GetNextRetryTime() == nil ||
				!a.GetNextRetryTime().AsTime().After(a.GetAttemptTime().AsTime()) {
				t.Fatalf("failed entry %d: %v", i, a)
			}
		} else if a.GetStatusCode() != 204 || a.GetError() != "" || a.GetNextRetryTime() != nil {
			t.Fatalf("delivered entry: %v", a)
		}
	}
	// Every attempt was of the one delivery, held at that sequence.
	s, err := e.conn.JS.Stream(context.Background(), backbone.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.GetMsg(context.Background(), recorded[0].DeliverySeq)
	if err != nil || held.Subject != backbone.DeliverySubject("d1") || held.Header.Get(forward.HeaderEventID) != ids[0] ||
		recorded[1].DeliverySeq != recorded[0].DeliverySeq || recorded[2].DeliverySeq != recorded[0].DeliverySeq {
		t.Fatalf("delivery at %d: %v (%v)", recorded[0].DeliverySeq, held, err)
	}
}

// An attempt whose tenant cannot name a subject is dropped and counted,
// not published under a wrong one.
func TestAttemptLogRefusesUnfileable(t *testing.T) {
	e := newEnv(t)
	err := forward.PublishAttempt(context.Background(), e.conn.JS, "dp", forward.Attempt{ID: "a", DestinationID: "d1", TenantID: "t.1"})
	if !errors.Is(err, forward.ErrUnfileableAttempt) {
		t.Fatalf("publish: %v", err)
	}
	err = forward.PublishAttempt(context.Background(), e.conn.JS, "dp", forward.Attempt{ID: "a", DestinationID: "d1"})
	if !errors.Is(err, forward.ErrUnfileableAttempt) {
		t.Fatalf("publish without a tenant: %v", err)
	}
}

// A delivery retried by its place in the stream reaches the destination
// again with the same event and webhook-id, counting its attempts from 1,
// whether it was delivered or dead-lettered; a sequence that no longer
// holds it is refused.
func TestRetryDelivery(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	r.answer = func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 1 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	}
	e.dests.add(destination("d1", "t1", r, "k"))
	e.start(forward.Options{})
	ctx := context.Background()

	ids := e.put("t1", "src", "once", 2)
	e.settled("d1")
	// An attempt is reported once its delivery is settled, so the report
	// may trail the stream by a moment.
	attempts := func(n int) {
		eventually(t, 10*time.Second, func() bool { return len(e.attemptsFor("d1")) >= n }, "%d attempts reported", n)
	}
	attempts(2)
	var dead, delivered forward.Attempt
	for _, a := range e.attemptsFor("d1") {
		if a.Outcome == forward.DeadLettered {
			dead = a
		} else {
			delivered = a
		}
	}
	if dead.ID == "" || delivered.ID == "" {
		t.Fatalf("attempts %+v", e.attemptsFor("d1"))
	}
	if err := forward.RetryDelivery(ctx, e.conn.JS, "d1", dead.DeliverySeq, dead.EventID); err != nil {
		t.Fatal(err)
	}
	e.settled("d1")
	if err := forward.RetryDelivery(ctx, e.conn.JS, "d1", delivered.DeliverySeq, delivered.EventID); err != nil {
		t.Fatal(err)
	}
	e.settled("d1")
	attempts(4)
	r.check()
	if got := r.got(); got[dead.EventID] != 1 || got[delivered.EventID] != 2 || len(got) != 2 || !slices.Contains(ids, dead.EventID) {
		t.Fatalf("delivered %v", got)
	}
	all := e.attemptsFor("d1")
	if len(all) != 4 {
		t.Fatalf("%d attempts", len(all))
	}
	for _, a := range all[2:] {
		if a.Number != 1 || a.Outcome != forward.Delivered || a.DeliverySeq <= delivered.DeliverySeq || a.DeliverySeq <= dead.DeliverySeq {
			t.Fatalf("retried attempt %+v", a)
		}
	}
	// The retry is a new message, marked so its max_age starts again.
	s, err := e.conn.JS.Stream(ctx, backbone.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetMsg(ctx, all[3].DeliverySeq)
	if err != nil || last.Header.Get(forward.HeaderRedriven) == "" || last.Header.Get(forward.HeaderAccepted) == "" ||
		last.Header.Get(forward.HeaderEventID) != delivered.EventID || !strings.HasPrefix(last.Header.Get("Nats-Msg-Id"), "retry:") {
		t.Fatalf("retried delivery %v (%v)", last, err)
	}

	for name, c := range map[string]struct {
		dest    string
		seq     uint64
		eventID string
	}{
		"another event":       {"d1", delivered.DeliverySeq, dead.EventID},
		"another destination": {"d2", delivered.DeliverySeq, delivered.EventID},
		"never held":          {"d1", 1 << 40, delivered.EventID},
	} {
		if err := forward.RetryDelivery(ctx, e.conn.JS, c.dest, c.seq, c.eventID); !errors.Is(err, forward.ErrDeliveryGone) {
			t.Fatalf("%s: %v, want ErrDeliveryGone", name, err)
		}
	}
	if err := s.DeleteMsg(ctx, dead.DeliverySeq); err != nil {
		t.Fatal(err)
	}
	if err := forward.RetryDelivery(ctx, e.conn.JS, "d1", dead.DeliverySeq, dead.EventID); !errors.Is(err, forward.ErrDeliveryGone) {
		t.Fatalf("aged out: %v, want ErrDeliveryGone", err)
	}
	if err := forward.RetryDelivery(ctx, e.conn.JS, "d.1", dead.DeliverySeq, dead.EventID); !errors.Is(err, forward.ErrInvalidDestination) {
		t.Fatalf("bad destination id: %v", err)
	}
}
