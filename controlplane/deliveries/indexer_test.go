package deliveries_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/deliveries"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryattempt"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// What a data plane publishes is what the API shows, times cut to
// microseconds; a batch larger than one insert is indexed whole.
func TestIndexesPublishedAttempts(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		w.start(w.indexer())
		tenant, dest := uuid.New(), uuid.New()
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Add(123456789) // inside any retention
		first := newAttempt(tenant, dest, base)
		first.Err = errors.New("a NUL \x00 in the answer")
		w.publish(first)
		for i := range 250 {
			a := newAttempt(tenant, dest, base.Add(time.Duration(i+1)*time.Millisecond))
			a.Outcome, a.StatusCode, a.Err, a.NextRetry = forward.Delivered, 204, nil, time.Time{}
			w.publish(a)
		}
		rows := w.waitRows(251)
		got := rows[0]
		if got.ID.String() != first.ID || got.TenantID != tenant || got.DestinationID != dest || got.DeliverySeq != 42 {
			t.Fatalf("ids: %+v", got)
		}
		if !got.AttemptTime.Equal(base.Truncate(time.Microsecond)) || got.Outcome != deliveryattempt.OutcomeRetrying || got.LatencyMs != 12 {
			t.Fatalf("row %+v", got)
		}
		want := forward.AttemptProto(first, "dp-1")
		want.AttemptTime = timestamppb.New(base.Truncate(time.Microsecond))
		want.NextRetryTime = timestamppb.New(first.NextRetry.Truncate(time.Microsecond))
		want.Error = "a NUL \uFFFD in the answer"
		if p := deliveries.ToProto(got); !proto.Equal(p, want) {
			t.Fatalf("stored attempt\n got %v\nwant %v", p, want)
		}
		if last := rows[250]; last.Outcome != deliveryattempt.OutcomeDelivered || last.NextRetryTime != nil || last.Error != "" || last.StatusCode != 204 {
			t.Fatalf("delivered row %+v", last)
		}
		w.waitSettled()
	})
}

// An attempt published twice (a publish retried after a lost
// confirmation, outside the stream's dedup window) is one row, and
// inserting a row again changes nothing.
func TestSameAttemptIndexedTwiceIsOneRow(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		tenant, dest := uuid.New(), uuid.New()
		a := newAttempt(tenant, dest, time.Now())
		data, err := proto.Marshal(forward.AttemptProto(a, "dp-1"))
		if err != nil {
			t.Fatal(err)
		}
		// Without a message id the stream keeps both copies; published
		// before the indexer starts, they arrive in one batch.
		w.publishRaw(backbone.AttemptSubject(tenant.String(), dest.String()), tenant.String(), data)
		w.publishRaw(backbone.AttemptSubject(tenant.String(), dest.String()), tenant.String(), data)
		w.start(w.indexer())
		w.waitRows(1)
		w.publishRaw(backbone.AttemptSubject(tenant.String(), dest.String()), tenant.String(), data)
		other := newAttempt(tenant, dest, time.Now().Add(time.Second))
		w.publish(other)
		w.waitRows(2)
		w.waitSettled()
		row, err := deliveries.Decode(backbone.AttemptSubject(tenant.String(), dest.String()), nats.Header{}, data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := deliveries.Insert(context.Background(), w.db, row, row); err != nil {
			t.Fatal(err)
		}
		if n := len(w.rows()); n != 2 {
			t.Fatalf("%d rows after inserting again, want 2", n)
		}
	})
}

// Messages the log cannot hold are terminated, once each, and never
// indexed: above all one whose tenant or destination disagrees with the
// subject it was filed under, which could otherwise show one tenant's log
// to another.
func TestMalformedAttemptsAreTerminated(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		tenant, dest := uuid.New(), uuid.New()
		subject := backbone.AttemptSubject(tenant.String(), dest.String())
		marshal := func(change func(*plugsv1.DeliveryAttempt)) []byte {
			p := forward.AttemptProto(newAttempt(tenant, dest, time.Now()), "dp-1")
			change(p)
			b, err := proto.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		w.publishRaw(subject, tenant.String(), []byte{0xff, 0xff, 0xff})
		w.publishRaw(subject, tenant.String(), marshal(func(p *plugsv1.DeliveryAttempt) { p.Id = "not-a-uuid" }))
		w.publishRaw(subject, uuid.NewString(), marshal(func(*plugsv1.DeliveryAttempt) {}))
		w.publishRaw(subject, tenant.String(), marshal(func(p *plugsv1.DeliveryAttempt) { p.DestinationId = uuid.NewString() }))
		w.publishRaw(backbone.AttemptSubject(uuid.NewString(), dest.String()), tenant.String(), marshal(func(*plugsv1.DeliveryAttempt) {}))
		good := newAttempt(tenant, dest, time.Now())
		w.publish(good)
		w.start(w.indexer())
		rows := w.waitRows(1)
		if rows[0].ID.String() != good.ID {
			t.Fatalf("indexed %s, want %s", rows[0].ID, good.ID)
		}
		w.waitSettled()
		if n := strings.Count(w.logs.String(), "delivery attempt cannot be indexed; dropped"); n != 5 {
			t.Fatalf("%d malformed attempts logged, want 5:\n%s", n, w.logs)
		}
	})
}

// The indexer is package streamindex's, whose consumer, batching and
// lifecycle the receipts tests exercise; here, that a second Run is
// refused with this package's error.
func TestRunTwice(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	ix := w.indexer()
	errc := make(chan error, 2)
	go func() { errc <- ix.Run(context.Background()) }()
	go func() { errc <- ix.Run(context.Background()) }()
	if err := <-errc; !errors.Is(err, deliveries.ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	ix.Stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Attempts older than the retention are deleted, in batches, by Prune and
// by the job Run starts.
func TestRetentionDeletesOldAttempts(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, false)
		ctx := context.Background()
		tenant, dest := uuid.New(), uuid.New()
		now := time.Now()
		var keep []string
		var rows []deliveries.Row
		for i := range 10 {
			// Seven attempts 34 to 40 days old, then three of 1 to 3
			// days, oldest first.
			age := time.Duration(40-i) * 24 * time.Hour
			if i >= 7 {
				age = time.Duration(10-i) * 24 * time.Hour
			}
			rows = append(rows, decoded(t, newAttempt(tenant, dest, now.Add(-age))))
			if age < backbone.DefaultReceiptRetention {
				keep = append(keep, rows[i].ID.String())
			}
		}
		if err := deliveries.Insert(ctx, w.db, rows...); err != nil {
			t.Fatal(err)
		}
		ix := &deliveries.Indexer{DB: w.db, Settings: streamindex.Settings{PruneBatchSize: 3}, Log: w.log()}
		n, err := ix.Prune(ctx, now.Add(-backbone.DefaultReceiptRetention))
		if err != nil || n != 7 {
			t.Fatalf("pruned %d (%v), want 7", n, err)
		}
		assertIDs(t, w.rows(), keep)

		// The job itself, on a short retention: everything older than
		// an hour goes, by the job's own clock.
		young := decoded(t, newAttempt(tenant, dest, now.Add(-time.Minute)))
		if err := deliveries.Insert(ctx, w.db, young); err != nil {
			t.Fatal(err)
		}
		w.start(&deliveries.Indexer{DB: w.db, Settings: streamindex.Settings{Retention: time.Hour, RetentionEvery: 20 * time.Millisecond}, Log: w.log()})
		waitFor(t, func() bool { return len(w.rows()) == 1 }, func() string { return "old attempts not deleted" })
		assertIDs(t, w.rows(), []string{young.ID.String()})
	})
}

func TestDecode(t *testing.T) {
	tenant, dest := uuid.New(), uuid.New()
	subject := backbone.AttemptSubject(tenant.String(), dest.String())
	published := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))
	encode := func(change func(*plugsv1.DeliveryAttempt)) []byte {
		p := forward.AttemptProto(newAttempt(tenant, dest, time.Now()), "dp")
		change(p)
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Ids left out are the subject's; a missing time is the stream's.
	row, err := deliveries.Decode(subject, nats.Header{}, encode(func(p *plugsv1.DeliveryAttempt) {
		p.DestinationId, p.AttemptTime, p.NextRetryTime = "", nil, nil
	}), published)
	if err != nil {
		t.Fatal(err)
	}
	if row.TenantID != tenant || row.DestinationID != dest || row.DeliverySeq != 0 || row.NextRetry != nil {
		t.Fatalf("row %+v", row)
	}
	if want := published.UTC().Truncate(time.Microsecond); !row.AttemptTime.Equal(want) || row.AttemptTime.Location() != time.UTC {
		t.Fatalf("attempt time %v, want %v", row.AttemptTime, want)
	}
	h := nats.Header{}
	h.Set(forward.HeaderTenantID, tenant.String())
	h.Set(forward.HeaderDeliverySeq, "7")
	if row, err := deliveries.Decode(subject, h, encode(func(*plugsv1.DeliveryAttempt) {}), published); err != nil || row.DeliverySeq != 7 {
		t.Fatalf("%+v %v", row, err)
	}

	header := func(k, v string) nats.Header {
		h := nats.Header{}
		h.Set(k, v)
		return h
	}
	for name, c := range map[string]struct {
		subject string
		header  nats.Header
		change  func(*plugsv1.DeliveryAttempt)
	}{
		"no id":             {subject, nil, func(p *plugsv1.DeliveryAttempt) { p.Id = "" }},
		"bad tenant":        {subject, header(forward.HeaderTenantID, "x"), func(*plugsv1.DeliveryAttempt) {}},
		"other tenant":      {subject, header(forward.HeaderTenantID, uuid.NewString()), func(*plugsv1.DeliveryAttempt) {}},
		"bad destination":   {subject, nil, func(p *plugsv1.DeliveryAttempt) { p.DestinationId = "x" }},
		"other destination": {subject, nil, func(p *plugsv1.DeliveryAttempt) { p.DestinationId = uuid.NewString() }},
		"bad sequence":      {subject, header(forward.HeaderDeliverySeq, "-1"), func(*plugsv1.DeliveryAttempt) {}},
		"nil tenant":        {backbone.AttemptSubject(uuid.Nil.String(), dest.String()), nil, func(*plugsv1.DeliveryAttempt) {}},
		"foreign subject":   {backbone.ReceiptSubject(tenant.String(), dest.String()), nil, func(*plugsv1.DeliveryAttempt) {}},
		"short subject":     {"plugs.attempts." + tenant.String(), nil, func(*plugsv1.DeliveryAttempt) {}},
		"subject not uuid":  {backbone.AttemptSubject("t", "d"), nil, func(*plugsv1.DeliveryAttempt) {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := deliveries.Decode(c.subject, c.header, encode(c.change), published); !errors.Is(err, deliveries.ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := deliveries.Decode(subject, nil, []byte{0xff}, published); !errors.Is(err, deliveries.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

// An outcome this control plane does not know is kept as unspecified.
func TestUnknownOutcomeIsKept(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	tenant, dest := uuid.New(), uuid.New()
	p := forward.AttemptProto(newAttempt(tenant, dest, time.Now()), "dp")
	p.Outcome = plugsv1.DeliveryAttempt_Outcome(42)
	b, _ := proto.Marshal(p)
	row, err := deliveries.Decode(backbone.AttemptSubject(tenant.String(), dest.String()), nil, b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := deliveries.Insert(context.Background(), w.db, row); err != nil {
		t.Fatal(err)
	}
	got, err := w.db.Client.DeliveryAttempt.Get(viewer.System(context.Background()), row.ID)
	if err != nil || got.Outcome != deliveryattempt.OutcomeUnspecified {
		t.Fatalf("%v %v", got, err)
	}
}

// The tenant filter applies to the log like every tenant-scoped row.
func TestAttemptsAreTenantScoped(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	ctx := context.Background()
	a, b, dest := uuid.New(), uuid.New(), uuid.New()
	row := decoded(t, newAttempt(a, dest, time.Now()))
	if err := deliveries.Insert(ctx, w.db, row); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Client.DeliveryAttempt.Get(viewer.ForTenant(ctx, b), row.ID); !ent.IsNotFound(err) {
		t.Fatalf("tenant b reads a's attempt: %v", err)
	}
	if _, err := w.db.Client.DeliveryAttempt.Get(viewer.ForTenant(ctx, a), row.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := w.db.Client.DeliveryAttempt.Delete().Exec(viewer.ForTenant(ctx, b)); err != nil || n != 0 {
		t.Fatalf("tenant b deleted %d (%v)", n, err)
	}
	if _, err := w.db.Client.DeliveryAttempt.Query().All(ctx); err == nil {
		t.Fatal("a query without a viewer was allowed")
	}
}

// decoded is an attempt as the indexer reads it off the stream.
func decoded(t *testing.T, a forward.Attempt) deliveries.Row {
	t.Helper()
	b, err := proto.Marshal(forward.AttemptProto(a, "dp-1"))
	if err != nil {
		t.Fatal(err)
	}
	h := nats.Header{}
	h.Set(forward.HeaderTenantID, a.TenantID)
	row, err := deliveries.Decode(backbone.AttemptSubject(a.TenantID, a.DestinationID), h, b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func assertIDs(t *testing.T, rows []*ent.DeliveryAttempt, want []string) {
	t.Helper()
	var got []string
	for _, r := range rows {
		got = append(got, r.ID.String())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("attempts %v, want %v", got, want)
	}
}
