package receipts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func eachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

func TestIndexesPublishedReceipts(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		w.start(w.indexer())
		tenant, src := uuid.New(), uuid.New()
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Add(123456789) // inside any retention
		full := newReceipt(tenant, src, base)
		full.Cause, full.Detail, full.Field = "mapping_failed", "no value at $.quantity", "quantity"
		full.Outcome = plugsv1.Receipt_OUTCOME_REJECTED
		full.StatusCode = 422
		full.Replay = true
		full.BodyTruncated = true
		full.Headers = append(full.Headers, &plugsv1.ReceiptHeader{Name: "X-Nul", Values: []string{"a\x00b", ""}})
		w.publish(full)
		// A batch larger than one insert.
		for i := range 250 {
			w.publish(newReceipt(tenant, src, base.Add(time.Duration(i+1)*time.Millisecond)))
		}
		rows := w.waitRows(251)
		got := rows[0]
		if got.ID.String() != full.GetId() || got.TenantID != tenant || got.SourceID != src {
			t.Fatalf("ids: %+v", got)
		}
		if !got.ReceiveTime.Equal(base.Truncate(time.Microsecond)) {
			t.Fatalf("receive time %v, want %v", got.ReceiveTime, base.Truncate(time.Microsecond))
		}
		// The API view of the stored row is the published receipt, the
		// time cut to microseconds and NUL made storable.
		want := proto.Clone(full).(*plugsv1.Receipt)
		want.ReceiveTime = timestamppb.New(base.Truncate(time.Microsecond))
		want.Headers[3].Values[0] = "a\uFFFDb"
		if p := receipts.ToProto(got, true); !proto.Equal(p, want) {
			t.Fatalf("stored receipt\n got %v\nwant %v", p, want)
		}
		if p := receipts.ToProto(got, false); p.GetBody() != nil || p.GetHeaders() != nil {
			t.Fatalf("list view carries body or headers: %v", p)
		}
		if got.Outcome != receipt.OutcomeRejected || got.LatencyMs != 12 {
			t.Fatalf("outcome %v latency %d", got.Outcome, got.LatencyMs)
		}
		w.waitSettled()
	})
}

func TestSameReceiptIndexedTwiceIsOneRow(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		tenant, src := uuid.New(), uuid.New()
		r := newReceipt(tenant, src, time.Now())
		// Published twice before the indexer starts, so both copies
		// arrive in one batch; then once more after the first is indexed.
		w.publish(r)
		w.publish(r)
		w.start(w.indexer())
		w.waitRows(1)
		w.waitSettled()
		w.publish(r)
		other := newReceipt(tenant, src, time.Now())
		w.publish(other)
		w.waitRows(2)
		w.waitSettled()
		if n := len(w.rows()); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
		// And Insert itself is idempotent.
		row, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := receipts.Insert(context.Background(), w.db, row, row); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(w.rows()); n != 2 {
			t.Fatalf("%d rows after inserting again, want 2", n)
		}
	})
}

func TestMalformedReceiptsAreTerminated(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		tenant, src := uuid.New(), uuid.New()
		subject := backbone.ReceiptSubject(tenant.String(), src.String())
		w.publishRaw(subject, []byte{0xff, 0xff, 0xff})
		badID := newReceipt(tenant, src, time.Now())
		badID.Id = "not-a-uuid"
		w.publish(badID)
		// Filed under another tenant's subject: never indexed, so never
		// shown to either.
		wrongTenant := newReceipt(tenant, src, time.Now())
		w.publishRaw(backbone.ReceiptSubject(uuid.NewString(), src.String()), mustMarshal(t, wrongTenant))
		good := newReceipt(tenant, src, time.Now())
		w.publish(good)
		w.start(w.indexer())
		rows := w.waitRows(1)
		if rows[0].ID.String() != good.GetId() {
			t.Fatalf("indexed %s, want %s", rows[0].ID, good.GetId())
		}
		w.waitSettled()
		if n := strings.Count(w.logs.String(), "receipt cannot be indexed; dropped"); n != 3 {
			t.Fatalf("%d malformed receipts logged, want 3:\n%s", n, w.logs)
		}
	})
}

func TestIndexerWaitsForTheStream(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	w.start(w.indexer())
	waitFor(t, func() bool { return strings.Contains(w.logs.String(), "waiting for the receipts stream") },
		func() string { return "no word of waiting:\n" + w.logs.String() })
	// A data plane starts and creates the streams.
	w.ensureStreams()
	r := newReceipt(uuid.New(), uuid.New(), time.Now())
	w.publish(r)
	if rows := w.waitRows(1); rows[0].ID.String() != r.GetId() {
		t.Fatalf("indexed %s", rows[0].ID)
	}
}

func TestReplicasShareTheConsumer(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	w.start(w.indexer())
	w.start(w.indexer())
	tenant, src := uuid.New(), uuid.New()
	for i := range 100 {
		w.publish(newReceipt(tenant, src, time.Now().Add(time.Duration(i))))
	}
	w.waitRows(100)
	w.waitSettled()
}

func TestRunTwiceAndStop(t *testing.T) {
	w := newWorld(t, "sqlite", true)
	ix := w.indexer()
	// Two at once: one runs, the other is refused at once.
	errc := make(chan error, 2)
	go func() { errc <- ix.Run(context.Background()) }()
	go func() { errc <- ix.Run(context.Background()) }()
	if err := <-errc; !errors.Is(err, receipts.ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	ix.Stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ix.Stop() // stopping a stopped indexer is a no-op
	// It runs again after a stop, and a cancelled context stops it too.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- ix.Run(ctx) }()
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A database whose dialect is missing is refused, by Run at once and by
// Insert before any statement, rather than written to with parameters of
// the wrong style; so is an indexer without a database.
func TestUnknownDialectIsRefused(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	odd := *w.db
	odd.Dialect = ""
	tenant, src := uuid.New(), uuid.New()
	row, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, newReceipt(tenant, src, time.Now())), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := receipts.Insert(context.Background(), &odd, row); !errors.Is(err, streamindex.ErrUnknownDialect) {
		t.Fatalf("Insert: %v, want ErrUnknownDialect", err)
	}
	if err := (&receipts.Indexer{DB: &odd, Log: w.log()}).Run(context.Background()); !errors.Is(err, streamindex.ErrUnknownDialect) {
		t.Fatalf("Run: %v, want ErrUnknownDialect", err)
	}
	if err := (&receipts.Indexer{Log: w.log()}).Run(context.Background()); !errors.Is(err, streamindex.ErrNoDatabase) {
		t.Fatalf("Run without DB: %v, want ErrNoDatabase", err)
	}
	if len(w.rows()) != 0 {
		t.Fatal("a row was stored")
	}
}

func TestRetentionDeletesOldReceipts(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, false)
		ctx := context.Background()
		tenant, src := uuid.New(), uuid.New()
		now := time.Now()
		var keep []string
		var rows []receipts.Row
		for i := range 10 {
			// Seven receipts 34 to 40 days old, then three of 1 to 3
			// days, oldest first.
			age := time.Duration(40-i) * 24 * time.Hour
			if i >= 7 {
				age = time.Duration(10-i) * 24 * time.Hour
			}
			r := newReceipt(tenant, src, now.Add(-age))
			row, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r), now)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
			if age < backbone.DefaultReceiptRetention {
				keep = append(keep, r.GetId())
			}
		}
		if err := receipts.Insert(ctx, w.db, rows...); err != nil {
			t.Fatal(err)
		}
		if len(keep) != 3 {
			t.Fatalf("test set up %d receipts to keep", len(keep))
		}
		// Batches of three: the seven old receipts take three deletes.
		ix := &receipts.Indexer{DB: w.db, Settings: streamindex.Settings{PruneBatchSize: 3}, Log: w.log()}
		n, err := ix.Prune(ctx, now.Add(-backbone.DefaultReceiptRetention))
		if err != nil || n != 7 {
			t.Fatalf("pruned %d (%v), want 7", n, err)
		}
		assertIDs(t, w.rows(), keep)

		// The job itself, on a short retention: everything older than
		// an hour goes, by the job's own clock.
		young := newReceipt(tenant, src, now.Add(-time.Minute))
		row, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, young), now)
		if err != nil {
			t.Fatal(err)
		}
		if err := receipts.Insert(ctx, w.db, row); err != nil {
			t.Fatal(err)
		}
		w.start(&receipts.Indexer{DB: w.db, Settings: streamindex.Settings{Retention: time.Hour, RetentionEvery: 20 * time.Millisecond}, Log: w.log()})
		waitFor(t, func() bool { return len(w.rows()) == 1 }, func() string { return "old receipts not deleted" })
		assertIDs(t, w.rows(), []string{young.GetId()})
	})
}

func TestDecode(t *testing.T) {
	tenant, src := uuid.New(), uuid.New()
	subject := backbone.ReceiptSubject(tenant.String(), src.String())
	published := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))

	r := newReceipt(tenant, src, time.Now())
	r.TenantId, r.SourceId, r.ReceiveTime = "", "", nil
	row, err := receipts.Decode(subject, mustMarshal(t, r), published)
	if err != nil {
		t.Fatal(err)
	}
	if row.TenantID != tenant || row.SourceID != src {
		t.Fatalf("ids from the subject: %v %v", row.TenantID, row.SourceID)
	}
	if want := published.UTC().Truncate(time.Microsecond); !row.ReceiveTime.Equal(want) || row.ReceiveTime.Location() != time.UTC {
		t.Fatalf("receive time %v, want %v", row.ReceiveTime, want)
	}

	for name, c := range map[string]struct {
		subject string
		change  func(*plugsv1.Receipt)
	}{
		"no id":            {subject, func(r *plugsv1.Receipt) { r.Id = "" }},
		"bad tenant":       {subject, func(r *plugsv1.Receipt) { r.TenantId = "x" }},
		"bad source":       {subject, func(r *plugsv1.Receipt) { r.SourceId = "x" }},
		"other source":     {subject, func(r *plugsv1.Receipt) { r.SourceId = uuid.NewString() }},
		"nil tenant":       {backbone.ReceiptSubject(uuid.Nil.String(), src.String()), func(r *plugsv1.Receipt) { r.TenantId = "" }},
		"foreign subject":  {"plugs.events." + tenant.String() + "." + src.String(), func(*plugsv1.Receipt) {}},
		"short subject":    {"plugs.receipts." + tenant.String(), func(*plugsv1.Receipt) {}},
		"subject not uuid": {backbone.ReceiptSubject("t", "s"), func(*plugsv1.Receipt) {}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newReceipt(tenant, src, time.Now())
			c.change(r)
			if _, err := receipts.Decode(c.subject, mustMarshal(t, r), published); !errors.Is(err, receipts.ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestUnknownOutcomeIsKept(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	tenant, src := uuid.New(), uuid.New()
	r := newReceipt(tenant, src, time.Now())
	r.Outcome = plugsv1.Receipt_Outcome(42)
	row, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := receipts.Insert(context.Background(), w.db, row); err != nil {
		t.Fatal(err)
	}
	got, err := w.db.Client.Receipt.Get(viewer.System(context.Background()), row.ID)
	if err != nil || got.Outcome != receipt.OutcomeUnspecified {
		t.Fatalf("%v %v", got, err)
	}
}

// The tenant filter applies to receipts like every tenant-scoped row.
func TestReceiptsAreTenantScoped(t *testing.T) {
	w := newWorld(t, "sqlite", false)
	ctx := context.Background()
	a, b, src := uuid.New(), uuid.New(), uuid.New()
	r := newReceipt(a, src, time.Now())
	row, err := receipts.Decode(backbone.ReceiptSubject(a.String(), src.String()), mustMarshal(t, r), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := receipts.Insert(ctx, w.db, row); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Client.Receipt.Get(viewer.ForTenant(ctx, b), row.ID); !ent.IsNotFound(err) {
		t.Fatalf("tenant b reads a's receipt: %v", err)
	}
	if _, err := w.db.Client.Receipt.Get(viewer.ForTenant(ctx, a), row.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := w.db.Client.Receipt.Delete().Exec(viewer.ForTenant(ctx, b)); err != nil || n != 0 {
		t.Fatalf("tenant b deleted %d (%v)", n, err)
	}
	_, err = w.db.Client.Receipt.Query().All(ctx)
	if err == nil {
		t.Fatal("a query without a viewer was allowed")
	}
}

func assertIDs(t *testing.T, rows []*ent.Receipt, want []string) {
	t.Helper()
	var got []string
	for _, r := range rows {
		got = append(got, r.ID.String())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("receipts %v, want %v", got, want)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Receipts of unverified requests come on a stream of their own and are
// indexed into the same table, marked as such, with the whole body's
// length and hash; one that says it is unverified on the other stream's
// subject (or the reverse) is malformed.
func TestIndexesUnverifiedReceipts(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, true)
		w.start(w.indexer())
		tenant, src := uuid.New(), uuid.New()
		r := newReceipt(tenant, src, time.Now().Add(-time.Minute))
		r.Outcome, r.Cause, r.StatusCode = plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid", 401
		r.Unverified, r.BodyTruncated, r.BodySize, r.BodySha256 = true, true, 1<<20, strings.Repeat("ab", 32)
		w.publishRaw(backbone.UnverifiedReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r))
		verified := newReceipt(tenant, src, time.Now())
		w.publish(verified)
		rows := w.waitRows(2)
		got := receipts.ToProto(rows[0], true)
		if got.GetId() != r.GetId() || !got.GetUnverified() || !got.GetBodyTruncated() || got.GetBodySize() != 1<<20 ||
			got.GetBodySha256() != r.GetBodySha256() || rows[0].SizeBytes != int64(proto.Size(r)) {
			t.Fatalf("unverified receipt indexed as %v (size %d)", got, rows[0].SizeBytes)
		}
		if rows[1].ID.String() != verified.GetId() || rows[1].Unverified {
			t.Fatalf("verified receipt indexed as %+v", rows[1])
		}
		if _, err := receipts.Decode(backbone.ReceiptSubject(tenant.String(), src.String()), mustMarshal(t, r), time.Now()); !errors.Is(err, receipts.ErrMalformed) {
			t.Fatalf("unverified receipt on the verified subject: %v", err)
		}
		if _, err := receipts.Decode(backbone.UnverifiedReceiptSubject(tenant.String(), src.String()), mustMarshal(t, verified), time.Now()); !errors.Is(err, receipts.ErrMalformed) {
			t.Fatalf("verified receipt on the unverified subject: %v", err)
		}
	})
}

// Past its byte limits the index deletes its oldest receipts, those of
// unverified requests first: a flood of forged requests never pushes out
// the receipts of verified webhooks while one of its own is left.
func TestByteLimits(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect, false)
		ctx := context.Background()
		tenant, src := uuid.New(), uuid.New()
		now := time.Now().Add(-time.Hour)
		var rows []receipts.Row
		var verified, unverified []string
		var size int64
		for i := range 8 {
			r := newReceipt(tenant, src, now.Add(time.Duration(i)*time.Minute))
			r.Body = make([]byte, 10_000)
			subject := backbone.ReceiptSubject
			if i%2 == 1 {
				r.Unverified = true
				subject = backbone.UnverifiedReceiptSubject
				unverified = append(unverified, r.GetId())
			} else {
				verified = append(verified, r.GetId())
			}
			size = max(size, int64(proto.Size(r)))
			row, err := receipts.Decode(subject(tenant.String(), src.String()), mustMarshal(t, r), now)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row)
		}
		if err := receipts.Insert(ctx, w.db, rows...); err != nil {
			t.Fatal(err)
		}
		prune := func(max, maxUnverified float64, want int) {
			t.Helper()
			ix := &receipts.Indexer{DB: w.db, Log: w.log(), Settings: streamindex.Settings{
				MaxBytes: int64(max * float64(size)), MaxExpendableBytes: int64(maxUnverified * float64(size)), PruneBatchSize: 1}}
			if n, err := ix.PruneBytes(ctx); err != nil || n != want {
				t.Fatalf("pruned %d (%v), want %d", n, err, want)
			}
		}
		// Within both limits: nothing goes.
		prune(8.5, 4.5, 0)
		// Unverified receipts past their own limit: their two oldest go.
		prune(0, 2.5, 2)
		assertIDs(t, w.rows(), []string{verified[0], verified[1], verified[2], unverified[2], verified[3], unverified[3]})
		// All receipts past theirs: the remaining unverified ones go
		// first, though verified ones are older.
		prune(4.5, 0, 2)
		assertIDs(t, w.rows(), verified)
		// Then the oldest verified ones, by the retention job itself.
		w.start(&receipts.Indexer{DB: w.db, Log: w.log(), Settings: streamindex.Settings{
			Retention: 24 * time.Hour, RetentionEvery: 20 * time.Millisecond, MaxBytes: int64(2.5 * float64(size))}})
		waitFor(t, func() bool { return len(w.rows()) == 2 }, func() string { return fmt.Sprintf("%d receipts left, want 2", len(w.rows())) })
		assertIDs(t, w.rows(), verified[2:])
	})
}
