package deliveries_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A burst of attempts, logged as a data plane logs them, is stored in
// fewer messages than attempts and indexed a row each, delivery sequences
// kept; a batch published again is stored once.
func TestIndexesBatches(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		log := forward.NewAttemptLog(w.js, "dp-1", 0, nil)
		tenant := uuid.New()
		dests := []uuid.UUID{uuid.New(), uuid.New()}
		want := map[string]uint64{}
		var first []forward.Attempt
		for i := range 300 {
			a := newAttempt(tenant, dests[i%2], time.Now())
			a.DeliverySeq = uint64(1000 + i)
			want[a.ID] = a.DeliverySeq
			if i%2 == 0 && len(first) < 3 {
				first = append(first, a)
			}
			log.Record(a)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go log.Run(ctx)
		cancel()
		<-log.Done()
		if log.Published() != 300 {
			t.Fatalf("published %d of 300", log.Published())
		}
		// Published again, as after a lost confirmation: stored once.
		before := w.streamMsgs()
		if err := forward.PublishAttempts(context.Background(), w.js, "dp-1", first); err != nil {
			t.Fatal(err)
		}
		if after := w.streamMsgs(); after != before+1 {
			t.Fatalf("%d messages, then %d after a batch", before, after)
		}
		if err := forward.PublishAttempts(context.Background(), w.js, "dp-1", first); err != nil {
			t.Fatal(err)
		}
		if n := w.streamMsgs(); n != before+1 || n >= 300 {
			t.Fatalf("%d messages for 300 attempts and a batch published twice", n)
		}
		w.start(w.indexer())
		rows := w.waitRows(300)
		w.waitSettled()
		for _, r := range rows {
			if seq, ok := want[r.ID.String()]; !ok || seq != r.DeliverySeq {
				t.Fatalf("row %s with delivery seq %d, want %d (%v)", r.ID, r.DeliverySeq, seq, ok)
			}
		}
	})
}

// A batch of another tenant's destination, or mixing destinations, is
// refused by the data plane and terminated by the indexer.
func TestMixedAttemptBatches(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	tenant, dest := uuid.New(), uuid.New()
	err := forward.PublishAttempts(context.Background(), w.js, "dp-1",
		[]forward.Attempt{newAttempt(tenant, dest, time.Now()), newAttempt(tenant, uuid.New(), time.Now())})
	if err == nil {
		t.Fatal("a batch of two destinations was published")
	}
	b := &plugsv1.DeliveryAttemptBatch{Entries: []*plugsv1.DeliveryAttemptEntry{
		{Attempt: forward.AttemptProto(newAttempt(tenant, dest, time.Now()), "dp-1")},
		{Attempt: forward.AttemptProto(newAttempt(tenant, uuid.New(), time.Now()), "dp-1")},
	}}
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(backbone.AttemptSubject(tenant.String(), dest.String()))
	m.Data = data
	m.Header.Set(forward.HeaderTenantID, tenant.String())
	m.Header.Set(backbone.BatchHeader, "2")
	if _, err := w.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := forward.PublishAttempts(context.Background(), w.js, "dp-1",
		[]forward.Attempt{newAttempt(tenant, dest, time.Now()), newAttempt(tenant, dest, time.Now())}); err != nil {
		t.Fatal(err)
	}
	w.start(w.indexer())
	w.waitRows(2)
	w.waitSettled()
	if n := strings.Count(w.logs.String(), "cannot be indexed; dropped"); n != 1 {
		t.Fatalf("%d malformed messages logged, want 1:\n%s", n, w.logs)
	}
}

func (w *world) streamMsgs() uint64 {
	w.t.Helper()
	s, err := w.js.Stream(context.Background(), backbone.AttemptsStream)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return info.State.Msgs
}
