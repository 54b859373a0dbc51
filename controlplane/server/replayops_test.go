package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/replay"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/replayoperation"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// eventually polls cond until it holds, failing the test after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signedReceipt is the receipt of a Stripe request for eventID signed with
// secret, which the source rejected as signature_invalid: the secret was
// not the source's at the time.
func signedReceipt(t *testing.T, tenantID, sourceID uuid.UUID, at time.Time, eventID, secret string) *plugsv1.Receipt {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_1"}}}`, eventID)
	tpl, _ := templates.MustBuiltin().Get("stripe")
	s, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: []byte(body)}, at)
	if err != nil {
		t.Fatal(err)
	}
	r := mkReceipt(tenantID, sourceID, at)
	r.Headers = []*plugsv1.ReceiptHeader{{Name: "Content-Type", Values: []string{"application/json"}}}
	for name, values := range s.Header {
		r.Headers = append(r.Headers, &plugsv1.ReceiptHeader{Name: name, Values: values})
	}
	r.Body = []byte(body)
	r.Outcome, r.Cause, r.Detail, r.StatusCode, r.EventType = plugsv1.Receipt_OUTCOME_REJECTED, "signature_invalid", "no signature matched", 401, ""
	return r
}

// rejectedBatch publishes n receipts of requests signed with the source's
// secret, each of its own event, a millisecond apart from start, and
// waits until the source lists them all.
func (w *receiptWorld) rejectedBatch(tenantID, sourceID uuid.UUID, start time.Time, n int) []*plugsv1.Receipt {
	w.t.Helper()
	rs := make([]*plugsv1.Receipt, n)
	for i := range rs {
		rs[i] = signedReceipt(w.t, tenantID, sourceID, start.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("evt_%s_%d", sourceID.String()[:8], i), secretA)
	}
	w.publish(rs...)
	w.waitListed(w.keyA, sourceID, n)
	return rs
}

// replayableSource creates a source, as source does, and waits until the
// control plane's configuration has it, as it has any source shortly
// after it is created.
func (w *receiptWorld) replayableSource(key, name string) (sourceID, tenantID uuid.UUID) {
	w.t.Helper()
	sourceID, tenantID = w.source(key, name)
	eventually(w.t, "the source in the configuration", func() bool { return w.srv.Cache.Source(sourceID.String()) != nil })
	return sourceID, tenantID
}

// replays maps each receipt replayed to how many replays of it the source
// lists, in the order the replays were received.
func (w *receiptWorld) replays(key string, sourceID uuid.UUID) (count map[string]int, order []string) {
	w.t.Helper()
	count = map[string]int{}
	req := &plugsv1.ListReceiptsRequest{SourceId: sourceID.String(), PageSize: 1000}
	var all []*plugsv1.Receipt
	for {
		resp, err := w.receiptSvc().ListReceipts(as(key), req)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, resp.GetReceipts()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	slices.Reverse(all) // oldest first
	for _, r := range all {
		orig, ok := strings.CutPrefix(r.GetRemoteAddress(), "replay of ")
		if !r.GetReplay() || !ok {
			continue
		}
		count[orig]++
		order = append(order, orig)
	}
	return count, order
}

// waitOperation polls an operation until done says it is.
func (w *receiptWorld) waitOperation(key, id string, done func(*plugsv1.ReplayOperation) bool) *plugsv1.ReplayOperation {
	w.t.Helper()
	var op *plugsv1.ReplayOperation
	eventually(w.t, "replay operation "+id, func() bool {
		var err error
		op, err = w.receiptSvc().GetReplayOperation(as(key), &plugsv1.GetReplayOperationRequest{Id: id})
		if err != nil {
			w.t.Fatal(err)
		}
		return done(op)
	})
	return op
}

func ended(op *plugsv1.ReplayOperation) bool {
	return op.GetState() != plugsv1.ReplayOperation_STATE_RUNNING
}

// replica is a second control-plane replica's runner on the same database
// and backbone, quick to look for work; stop ends it as a shutdown does.
func (w *receiptWorld) replica(name string, change func(*replay.Runner)) (stop func()) {
	w.t.Helper()
	r := &replay.Runner{
		Client: w.db.Client,
		Replayer: &replay.Replayer{Sources: w.srv.Cache, JetStream: w.js,
			PublicIngestURL: "https://ingest.example.com", Node: "controlplane " + name},
		Owner:      name,
		ScanEvery:  20 * time.Millisecond,
		StaleAfter: 3 * time.Second,
		RetryDelay: 10 * time.Millisecond,
		Log:        slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	change(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	w.t.Cleanup(stop)
	return stop
}

// storeOperation writes an operation as a replica would have left it.
func (w *receiptWorld) storeOperation(tenantID, sourceID uuid.UUID, req *plugsv1.ReplayReceiptsRequest, total int, change func(*ent.ReplayOperationCreate)) uuid.UUID {
	w.t.Helper()
	req.SourceId = sourceID.String()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		w.t.Fatal(err)
	}
	c := w.db.Client.ReplayOperation.Create().
		SetTenantID(tenantID).SetSourceID(sourceID).SetRequest(b).
		SetCutoffTime(time.Now().UTC().Truncate(time.Microsecond)).SetTotalCount(int32(total))
	change(c)
	op, err := c.Save(viewer.System(context.Background()))
	if err != nil {
		w.t.Fatal(err)
	}
	return op.ID
}

func TestReplayOperationProgressAndCounters(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReplayOperationProgressAndCounters(t, d) })
	}
}

func testReplayOperationProgressAndCounters(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	src, tenant := w.replayableSource(w.keyA, "stripe")
	// Enough receipts that the walk, paced, takes about a second.
	rs := w.rejectedBatch(tenant, src, receiptBase, 200)
	at := receiptBase.Add(time.Second)
	dupA := signedReceipt(t, tenant, src, at, "evt_twice", secretA)
	dupB := signedReceipt(t, tenant, src, at.Add(time.Millisecond), "evt_twice", secretA)
	truncated := signedReceipt(t, tenant, src, at.Add(2*time.Millisecond), "evt_cut", secretA)
	truncated.BodyTruncated = true
	forged := signedReceipt(t, tenant, src, at.Add(3*time.Millisecond), "evt_forged", "whsec_not_the_right_one_0123456")
	// Not selected: another cause, a replay, and a request received after
	// the operation started.
	other := signedReceipt(t, tenant, src, at.Add(4*time.Millisecond), "evt_other", secretA)
	other.Cause = "signature_stale"
	replayed := signedReceipt(t, tenant, src, at.Add(5*time.Millisecond), "evt_replayed", secretA)
	replayed.Replay = true
	w.publish(dupA, dupB, truncated, forged, other, replayed)
	w.waitListed(w.keyA, src, len(rs)+6)
	selected := append(slices.Clone(rs), dupA, dupB, truncated, forged)

	start := time.Now()
	op, err := w.receiptSvc().ReplayReceipts(as(w.keyA), &plugsv1.ReplayReceiptsRequest{
		SourceId: src.String(), Cause: "signature_invalid",
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetState() != plugsv1.ReplayOperation_STATE_RUNNING || op.GetTotalCount() != int32(len(selected)) ||
		op.GetSourceId() != src.String() || op.GetRequest().GetCause() != "signature_invalid" || op.GetEndTime() != nil {
		t.Fatalf("started %v", op)
	}
	late := signedReceipt(t, tenant, src, time.Now().Add(time.Hour), "evt_late", secretA)
	w.publish(late)

	// Progress shows while it runs, and only grows.
	var seen []int32
	final := w.waitOperation(w.keyA, op.GetId(), func(o *plugsv1.ReplayOperation) bool {
		if o.GetState() == plugsv1.ReplayOperation_STATE_RUNNING {
			seen = append(seen, o.GetProcessedCount())
		}
		return ended(o)
	})
	if !slices.IsSorted(seen) {
		t.Fatalf("progress went backwards: %v", seen)
	}
	if !slices.ContainsFunc(seen, func(n int32) bool { return n > 0 && n < int32(len(selected)) }) {
		t.Fatalf("no progress seen between start and end: %v", seen)
	}
	if time.Since(start) < time.Duration(len(selected))*time.Second/replay.DefaultRate/2 {
		t.Fatalf("%d receipts replayed in %v: not paced", len(selected), time.Since(start))
	}
	want := &plugsv1.ReplayOperation{
		State: plugsv1.ReplayOperation_STATE_SUCCEEDED, TotalCount: int32(len(selected)), ProcessedCount: int32(len(selected)),
		AcceptedCount: int32(len(rs)) + 1, DuplicateCount: 1, RejectedCount: 1, FailedCount: 1,
	}
	got := &plugsv1.ReplayOperation{
		State: final.GetState(), TotalCount: final.GetTotalCount(), ProcessedCount: final.GetProcessedCount(),
		AcceptedCount: final.GetAcceptedCount(), DuplicateCount: final.GetDuplicateCount(), FilteredCount: final.GetFilteredCount(),
		RejectedCount: final.GetRejectedCount(), FailedCount: final.GetFailedCount(),
	}
	if !proto.Equal(got, want) {
		t.Fatalf("ended with\n %v\nwant\n %v", got, want)
	}
	if final.GetEndTime() == nil || final.GetError() != "" || !final.GetUpdateTime().AsTime().After(final.GetCreateTime().AsTime()) {
		t.Fatalf("ended %v", final)
	}

	// Each selected receipt was replayed once, oldest first, the one cut
	// short not at all; nothing else was.
	var count map[string]int
	var order []string
	eventually(t, "the replays indexed", func() bool {
		count, order = w.replays(w.keyA, src)
		return len(order) == len(selected)-1
	})
	var wantOrder []string
	for _, r := range selected {
		if r != truncated {
			wantOrder = append(wantOrder, r.GetId())
		}
	}
	if !slices.Equal(order, wantOrder) {
		t.Fatalf("replayed in the order\n %v\nwant oldest first\n %v", order, wantOrder)
	}
	for id, n := range count {
		if n != 1 {
			t.Fatalf("receipt %s replayed %d times", id, n)
		}
	}

	// Any replica shows it, over REST too, and lists it newest first.
	code, body := w.rest("GET", "/v1/replayOperations/"+op.GetId(), w.keyA, "")
	var rest struct {
		State          string `json:"state"`
		ProcessedCount int    `json:"processedCount"`
		AcceptedCount  int    `json:"acceptedCount"`
		Request        struct {
			Cause string `json:"cause"`
		} `json:"request"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &rest) != nil || rest.State != "STATE_SUCCEEDED" ||
		rest.ProcessedCount != len(selected) || rest.AcceptedCount != len(rs)+1 || rest.Request.Cause != "signature_invalid" {
		t.Fatalf("REST get: %d %s", code, body)
	}
	// A second bulk replay finds every event stored already.
	second, err := w.receiptSvc().ReplayReceipts(as(w.keyA), &plugsv1.ReplayReceiptsRequest{
		SourceId: src.String(), Cause: "signature_invalid", StartTime: timestamppb.New(at),
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetTotalCount() != 4 {
		t.Fatalf("second operation counts %d receipts", second.GetTotalCount())
	}
	final = w.waitOperation(w.keyA, second.GetId(), ended)
	if final.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED || final.GetDuplicateCount() != 2 ||
		final.GetRejectedCount() != 1 || final.GetFailedCount() != 1 || final.GetAcceptedCount() != 0 {
		t.Fatalf("second operation ended %v", final)
	}
	list, err := w.receiptSvc().ListReplayOperations(as(w.keyA), &plugsv1.ListReplayOperationsRequest{SourceId: src.String()})
	if err != nil {
		t.Fatal(err)
	}
	if got := opIDs(list.GetOperations()); !slices.Equal(got, []string{second.GetId(), op.GetId()}) {
		t.Fatalf("listed %v", got)
	}
	code, body = w.rest("GET", "/v1/replayOperations?sourceId="+src.String()+"&pageSize=1", w.keyA, "")
	var page struct {
		Operations []struct {
			ID string `json:"id"`
		} `json:"operations"`
		Next string `json:"nextPageToken"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &page) != nil || len(page.Operations) != 1 ||
		page.Operations[0].ID != second.GetId() || page.Next == "" {
		t.Fatalf("REST list: %d %s", code, body)
	}
}

func opIDs(ops []*plugsv1.ReplayOperation) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.GetId()
	}
	return out
}

func TestReplayOperationCancel(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.replayableSource(w.keyA, "stripe")
	rs := w.rejectedBatch(tenant, src, receiptBase, 400)
	op, err := w.receiptSvc().ReplayReceipts(as(w.keyA), &plugsv1.ReplayReceiptsRequest{SourceId: src.String()})
	if err != nil {
		t.Fatal(err)
	}
	w.waitOperation(w.keyA, op.GetId(), func(o *plugsv1.ReplayOperation) bool { return o.GetProcessedCount() > 0 })
	cancelled, err := w.receiptSvc().CancelReplayOperation(as(w.keyA), &plugsv1.CancelReplayOperationRequest{Id: op.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.GetState() != plugsv1.ReplayOperation_STATE_CANCELLED || cancelled.GetEndTime() == nil {
		t.Fatalf("cancelled: %v", cancelled)
	}
	// The walk stops: its final counters are written once, then nothing
	// moves.
	var last *plugsv1.ReplayOperation
	eventually(t, "the walk to stop", func() bool {
		o, err := w.receiptSvc().GetReplayOperation(as(w.keyA), &plugsv1.GetReplayOperationRequest{Id: op.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		stable := last != nil && proto.Equal(o, last)
		last = o
		if !stable {
			time.Sleep(300 * time.Millisecond)
		}
		return stable
	})
	if last.GetState() != plugsv1.ReplayOperation_STATE_CANCELLED || last.GetProcessedCount() >= int32(len(rs)) ||
		last.GetProcessedCount() < cancelled.GetProcessedCount() || last.GetAcceptedCount() != last.GetProcessedCount() {
		t.Fatalf("after cancel: %v", last)
	}
	// The counters say what was replayed, but for a replay cut short by
	// the cancel.
	var order []string
	eventually(t, "the replays indexed", func() bool {
		_, order = w.replays(w.keyA, src)
		return len(order) >= int(last.GetProcessedCount())
	})
	time.Sleep(200 * time.Millisecond)
	if _, order = w.replays(w.keyA, src); len(order) > int(last.GetProcessedCount())+1 {
		t.Fatalf("%d replays, %d counted", len(order), last.GetProcessedCount())
	}
	// Cancelling again changes nothing.
	again, err := w.receiptSvc().CancelReplayOperation(as(w.keyA), &plugsv1.CancelReplayOperationRequest{Id: op.GetId()})
	if err != nil || !proto.Equal(again, last) {
		t.Fatalf("cancelled again: %v %v", again, err)
	}
	code, body := w.rest("POST", "/v1/replayOperations/"+op.GetId()+":cancel", w.keyA, "{}")
	if code != http.StatusOK || !strings.Contains(string(body), "STATE_CANCELLED") {
		t.Fatalf("REST cancel: %d %s", code, body)
	}
}

// A replica that stopped writing progress (it crashed, or lost the
// database) has its operation taken over by exactly one other replica,
// which resumes after the cursor: the receipts before it are not replayed
// again.
func TestReplayOperationTakeover(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReplayOperationTakeover(t, d) })
	}
}

func testReplayOperationTakeover(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	src, tenant := w.replayableSource(w.keyA, "stripe")
	rs := w.rejectedBatch(tenant, src, receiptBase, 30)
	const done = 10
	cursor := rs[done-1]
	long := time.Now().UTC().Add(-time.Hour)
	id := w.storeOperation(tenant, src, &plugsv1.ReplayReceiptsRequest{Cause: "signature_invalid"}, len(rs), func(c *ent.ReplayOperationCreate) {
		c.SetProcessedCount(done).SetAcceptedCount(done).
			SetCursorTime(cursor.GetReceiveTime().AsTime()).SetCursorID(uuid.MustParse(cursor.GetId())).
			SetOwner("controlplane-gone#0000").SetHeartbeatTime(long)
	})
	// Two replicas see it stale at once.
	w.replica("replica-1", func(*replay.Runner) {})
	w.replica("replica-2", func(*replay.Runner) {})

	final := w.waitOperation(w.keyA, id.String(), ended)
	if final.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED || final.GetProcessedCount() != int32(len(rs)) ||
		final.GetAcceptedCount() != int32(len(rs)) || final.GetTotalCount() != int32(len(rs)) {
		t.Fatalf("ended %v", final)
	}
	row, err := w.db.Client.ReplayOperation.Get(viewer.System(context.Background()), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(row.Owner, "replica-") || row.TenantID != tenant {
		t.Fatalf("owner %q, tenant %s", row.Owner, row.TenantID)
	}
	var count map[string]int
	eventually(t, "the replays indexed", func() bool {
		var order []string
		count, order = w.replays(w.keyA, src)
		return len(order) >= len(rs)-done
	})
	for i, r := range rs {
		want := 1
		if i < done {
			want = 0
		}
		if count[r.GetId()] != want {
			t.Fatalf("receipt %d replayed %d times, want %d", i, count[r.GetId()], want)
		}
	}
	if strings.Count(w.logs.String(), "took over a replay operation") != 1 {
		t.Fatal("not taken over exactly once")
	}
}

// A replica shutting down leaves its operation running and unowned, with
// its progress; another resumes it from the cursor.
func TestReplayOperationResumesAfterShutdown(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.replayableSource(w.keyA, "stripe")
	rs := w.rejectedBatch(tenant, src, receiptBase, 60)
	id := w.storeOperation(tenant, src, &plugsv1.ReplayReceiptsRequest{}, len(rs), func(*ent.ReplayOperationCreate) {})
	stop := w.replica("replica-1", func(r *replay.Runner) { r.Rate, r.ProgressCount = 40, 5 })
	w.waitOperation(w.keyA, id.String(), func(o *plugsv1.ReplayOperation) bool { return o.GetProcessedCount() >= 10 })
	stop()

	row, err := w.db.Client.ReplayOperation.Get(viewer.System(context.Background()), id)
	if err != nil {
		t.Fatal(err)
	}
	if row.State != replayoperation.StateRunning || row.Owner != "" || row.HeartbeatTime != nil ||
		row.ProcessedCount < 10 || row.ProcessedCount >= int32(len(rs)) || row.CursorID == nil {
		t.Fatalf("left %+v", row)
	}
	stoppedAt := int(row.ProcessedCount)
	if *row.CursorID != uuid.MustParse(rs[stoppedAt-1].GetId()) {
		t.Fatalf("cursor %s, want the %dth receipt", row.CursorID, stoppedAt)
	}

	w.replica("replica-2", func(r *replay.Runner) { r.Rate = -1 })
	final := w.waitOperation(w.keyA, id.String(), ended)
	if final.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED || final.GetProcessedCount() != int32(len(rs)) ||
		final.GetAcceptedCount()+final.GetDuplicateCount() != int32(len(rs)) || final.GetDuplicateCount() > 1 {
		t.Fatalf("ended %v", final)
	}
	var count map[string]int
	eventually(t, "the replays indexed", func() bool {
		var order []string
		count, order = w.replays(w.keyA, src)
		return len(order) >= len(rs)
	})
	for i, r := range rs {
		// The receipt in flight at shutdown was not counted and is
		// replayed again (a duplicate if its event was stored).
		if n := count[r.GetId()]; n != 1 && (i != stoppedAt || n != 2) {
			t.Fatalf("receipt %d replayed %d times", i, n)
		}
	}
}

// An operation whose source is deleted ends FAILED and says why.
func TestReplayOperationFailsWithoutItsSource(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.source(w.keyA, "stripe")
	w.rejectedBatch(tenant, src, receiptBase, 3)
	if _, err := w.sources().DeleteSource(as(w.keyA), &plugsv1.DeleteSourceRequest{Id: src.String()}); err != nil {
		t.Fatal(err)
	}
	id := w.storeOperation(tenant, src, &plugsv1.ReplayReceiptsRequest{}, 3, func(*ent.ReplayOperationCreate) {})
	w.replica("replica-1", func(*replay.Runner) {})
	final := w.waitOperation(w.keyA, id.String(), ended)
	if final.GetState() != plugsv1.ReplayOperation_STATE_FAILED || final.GetError() != "the source no longer exists" ||
		final.GetEndTime() == nil || final.GetProcessedCount() != 0 {
		t.Fatalf("ended %v", final)
	}
}

func TestReplayOperationTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testReplayOperationTenantIsolation(t, d) })
	}
}

func testReplayOperationTenantIsolation(t *testing.T, dialect string) {
	w := startReceiptWorld(t, dialect)
	srcA, tenantA := w.replayableSource(w.keyA, "a's")
	srcB, _ := w.replayableSource(w.keyB, "b's")
	w.rejectedBatch(tenantA, srcA, receiptBase, 3)
	// A starts a bulk replay over REST.
	code, body := w.rest("POST", "/v1/sources/"+srcA.String()+"/receipts:replay", w.keyA, `{"cause":"signature_invalid"}`)
	var opA struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Total int    `json:"totalCount"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &opA) != nil || opA.State != "STATE_RUNNING" || opA.Total != 3 {
		t.Fatalf("REST start: %d %s", code, body)
	}
	if final := w.waitOperation(w.keyA, opA.ID, ended); final.GetAcceptedCount() != 3 {
		t.Fatalf("a's operation ended %v", final)
	}
	before, _ := w.receiptSvc().GetReplayOperation(as(w.keyA), &plugsv1.GetReplayOperationRequest{Id: opA.ID})

	b := as(w.keyB)
	missing := uuid.Must(uuid.NewV7()).String()
	sameAsMissing := func(what string, errOther, errMissing error) {
		t.Helper()
		wantCode(t, errOther, codes.NotFound)
		wantCode(t, errMissing, codes.NotFound)
		if status.Convert(errOther).Message() != status.Convert(errMissing).Message() {
			t.Fatalf("%s: another tenant's %v vs a missing one %v", what, errOther, errMissing)
		}
	}
	_, errOther := w.receiptSvc().GetReplayOperation(b, &plugsv1.GetReplayOperationRequest{Id: opA.ID})
	_, errMissing := w.receiptSvc().GetReplayOperation(b, &plugsv1.GetReplayOperationRequest{Id: missing})
	sameAsMissing("get", errOther, errMissing)
	_, errOther = w.receiptSvc().CancelReplayOperation(b, &plugsv1.CancelReplayOperationRequest{Id: opA.ID})
	_, errMissing = w.receiptSvc().CancelReplayOperation(b, &plugsv1.CancelReplayOperationRequest{Id: missing})
	sameAsMissing("cancel", errOther, errMissing)
	_, errOther = w.receiptSvc().ReplayReceipts(b, &plugsv1.ReplayReceiptsRequest{SourceId: srcA.String()})
	_, errMissing = w.receiptSvc().ReplayReceipts(b, &plugsv1.ReplayReceiptsRequest{SourceId: missing})
	sameAsMissing("replay", errOther, errMissing)
	_, errOther = w.receiptSvc().ListReplayOperations(b, &plugsv1.ListReplayOperationsRequest{SourceId: srcA.String()})
	_, errMissing = w.receiptSvc().ListReplayOperations(b, &plugsv1.ListReplayOperationsRequest{SourceId: missing})
	sameAsMissing("list", errOther, errMissing)
	list, err := w.receiptSvc().ListReplayOperations(b, &plugsv1.ListReplayOperationsRequest{})
	if err != nil || len(list.GetOperations()) != 0 {
		t.Fatalf("b lists %v (%v)", list.GetOperations(), err)
	}
	// B's own bulk replay of its empty source replays nothing of A's.
	opB, err := w.receiptSvc().ReplayReceipts(b, &plugsv1.ReplayReceiptsRequest{SourceId: srcB.String()})
	if err != nil {
		t.Fatal(err)
	}
	if final := w.waitOperation(w.keyB, opB.GetId(), ended); final.GetTotalCount() != 0 || final.GetProcessedCount() != 0 ||
		final.GetState() != plugsv1.ReplayOperation_STATE_SUCCEEDED {
		t.Fatalf("b's operation ended %v", final)
	}

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/replayOperations/" + opA.ID, ""},
		{"POST", "/v1/replayOperations/" + opA.ID + ":cancel", "{}"},
		{"POST", "/v1/sources/" + srcA.String() + "/receipts:replay", "{}"},
		{"GET", "/v1/replayOperations?sourceId=" + srcA.String(), ""},
	} {
		if code, body := w.rest(c.method, c.path, w.keyB, c.body); code != http.StatusNotFound {
			t.Fatalf("REST %s %s as b: %d %s", c.method, c.path, code, body)
		}
	}
	code, body = w.rest("GET", "/v1/replayOperations", w.keyB, "")
	if code != http.StatusOK || strings.Contains(string(body), opA.ID) {
		t.Fatalf("REST list as b: %d %s", code, body)
	}
	// A's operation is as it was, and A sees it.
	after, err := w.receiptSvc().GetReplayOperation(as(w.keyA), &plugsv1.GetReplayOperationRequest{Id: opA.ID})
	if err != nil || !proto.Equal(before, after) {
		t.Fatalf("a's operation changed:\nbefore %v\nafter  %v (%v)", before, after, err)
	}
	if code, body := w.rest("GET", "/v1/replayOperations?sourceId="+srcA.String(), w.keyA, ""); code != http.StatusOK || !strings.Contains(string(body), opA.ID) {
		t.Fatalf("REST list as a: %d %s", code, body)
	}
}

func TestReplayOperationValidation(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, _ := w.source(w.keyA, "stripe")
	long := strings.Repeat("x", 1025)
	for name, c := range map[string]struct {
		req   *plugsv1.ReplayReceiptsRequest
		field string
	}{
		"no source":         {&plugsv1.ReplayReceiptsRequest{}, "source_id"},
		"source not a uuid": {&plugsv1.ReplayReceiptsRequest{SourceId: "stripe"}, "source_id"},
		"unknown outcome":   {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), Outcome: 99}, "outcome"},
		"long cause":        {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), Cause: long}, "cause"},
		"long event type":   {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), EventType: long}, "event_type"},
		"long event id":     {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), ProviderEventId: long}, "provider_event_id"},
		"invalid start":     {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), StartTime: &timestamppb.Timestamp{Nanos: -1}}, "start_time"},
		"invalid end":       {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(), EndTime: &timestamppb.Timestamp{Seconds: -1 << 40}}, "end_time"},
		"end before start": {&plugsv1.ReplayReceiptsRequest{SourceId: src.String(),
			StartTime: timestamppb.New(receiptBase), EndTime: timestamppb.New(receiptBase.Add(-time.Second))}, "end_time"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.receiptSvc().ReplayReceipts(as(w.keyA), c.req)
			if v := fieldViolations(t, err); v[c.field] == "" {
				t.Fatalf("no violation of %s in %v", c.field, v)
			}
		})
	}
	_, err := w.receiptSvc().GetReplayOperation(as(w.keyA), &plugsv1.GetReplayOperationRequest{Id: "nope"})
	if v := fieldViolations(t, err); v["id"] == "" {
		t.Fatalf("get: no violation of id in %v", v)
	}
	_, err = w.receiptSvc().CancelReplayOperation(as(w.keyA), &plugsv1.CancelReplayOperationRequest{Id: "nope"})
	if v := fieldViolations(t, err); v["id"] == "" {
		t.Fatalf("cancel: no violation of id in %v", v)
	}
	for field, req := range map[string]*plugsv1.ListReplayOperationsRequest{
		"source_id":  {SourceId: "stripe"},
		"page_size":  {PageSize: -1},
		"page_token": {PageToken: "garbage"},
	} {
		_, err := w.receiptSvc().ListReplayOperations(as(w.keyA), req)
		if v := fieldViolations(t, err); v[field] == "" {
			t.Fatalf("list: no violation of %s in %v", field, v)
		}
	}
	code, body := w.rest("POST", "/v1/sources/"+src.String()+"/receipts:replay", w.keyA, `{"cause":"`+long+`"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"field":"cause"`) {
		t.Fatalf("REST invalid filter: %d %s", code, body)
	}
	_, err = w.receiptSvc().ReplayReceipts(as(""), &plugsv1.ReplayReceiptsRequest{SourceId: src.String()})
	wantCode(t, err, codes.Unauthenticated)
	// Nothing was started.
	list, err := w.receiptSvc().ListReplayOperations(as(w.keyA), &plugsv1.ListReplayOperationsRequest{})
	if err != nil || len(list.GetOperations()) != 0 {
		t.Fatalf("operations after invalid requests: %v %v", list, err)
	}
}

// Without a backbone nothing can be replayed; the operations API answers
// so instead of starting what cannot run.
func TestReplayOperationWithoutBackbone(t *testing.T) {
	e := startEnv(t, "sqlite")
	src, err := e.sources().CreateSource(as(e.keyA), newSource("stripe", secretA))
	if err != nil {
		t.Fatal(err)
	}
	_, err = plugsv1.NewReceiptServiceClient(e.conn).ReplayReceipts(as(e.keyA), &plugsv1.ReplayReceiptsRequest{SourceId: src.GetId()})
	wantCode(t, err, codes.FailedPrecondition)
}

// A receipt whose body could not be read whole holds at best its start,
// like a truncated one: replaying it is refused, not run on a part body
// (which, for a scheme that does not sign the body, would store it).
func TestReplayRefusesPartBodies(t *testing.T) {
	w := startReceiptWorld(t, "sqlite")
	src, tenant := w.replayableSource(w.keyA, "stripe")
	at := receiptBase.Add(time.Second)
	whole := signedReceipt(t, tenant, src, at, "evt_whole", secretA)
	truncated := signedReceipt(t, tenant, src, at.Add(time.Millisecond), "evt_cut", secretA)
	truncated.BodyTruncated = true
	unreadable := signedReceipt(t, tenant, src, at.Add(2*time.Millisecond), "evt_unread", secretA)
	unreadable.Cause, unreadable.Detail, unreadable.StatusCode = "body_unreadable", "unexpected EOF", 400
	w.publish(whole, truncated, unreadable)
	w.waitListed(w.keyA, src, 3)

	for _, r := range []*plugsv1.Receipt{truncated, unreadable} {
		_, err := w.receiptSvc().ReplayReceipt(as(w.keyA), &plugsv1.ReplayReceiptRequest{Id: r.GetId()})
		if st := wantCode(t, err, codes.FailedPrecondition); !strings.Contains(st.Message(), "start of the body") {
			t.Fatalf("replay of a %s receipt refused with %v", r.GetCause(), st.Message())
		}
	}
	out, err := w.receiptSvc().ReplayReceipt(as(w.keyA), &plugsv1.ReplayReceiptRequest{Id: whole.GetId()})
	if err != nil || out.GetReceipt().GetOutcome() != plugsv1.Receipt_OUTCOME_ACCEPTED {
		t.Fatalf("replay of a whole receipt: %v %v", out, err)
	}
}
