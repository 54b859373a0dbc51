package listenfeed_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/listenfeed"
	"github.com/plugshq/plugs/dataplane/receipts"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func accepted(tenantID, sourceID, eventID string) *plugsv1.Receipt {
	return &plugsv1.Receipt{Id: uuid.NewString(), TenantId: tenantID, SourceId: sourceID, ProviderEventId: eventID,
		Outcome: plugsv1.Receipt_OUTCOME_ACCEPTED, Method: "POST", Body: []byte(`{}`)}
}

func batch(t *testing.T, conn *backbone.Conn, rcs ...*plugsv1.Receipt) {
	t.Helper()
	if err := receipts.PublishBatch(context.Background(), conn.JS, rcs); err != nil {
		t.Fatal(err)
	}
}

// Raw mode reads the receipts of the session's source out of batches, and
// none of another source's, even one slipped into a batch on the
// source's subject; a cursor taken part way through a batch resumes with
// the rest of it, none lost, none repeated. Single receipts, the form of
// messages stored before batches, are read alongside.
func TestRawReadsBatches(t *testing.T) {
	conn := backboneConn(t)
	f := &listenfeed.Feed{JS: conn.JS}
	q := api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}, Raw: true}
	r, err := f.Open(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	batch(t, conn, accepted(tenant, srcB, "b_0"), accepted(tenant, srcB, "b_1"))
	batch(t, conn, accepted(tenant, srcA, "a_0"), accepted(tenant, srcA, "a_1"), accepted(tenant, srcA, "a_2"), accepted(tenant, srcA, "a_3"))
	receipt(t, conn, srcA, "a_4", plugsv1.Receipt_OUTCOME_ACCEPTED)
	// A batch on srcA's subject holding a receipt of srcB, and one of
	// another tenant: neither is read.
	forged := &plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{accepted(tenant, srcB, "b_forged"),
		accepted(otherTenant, srcA, "other_tenant"), accepted(tenant, srcA, "a_5")}}
	data, err := proto.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(backbone.ReceiptSubject(tenant, srcA))
	m.Data = data
	m.Header.Set(backbone.BatchHeader, "3")
	if _, err := conn.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	if got := read(t, r, 2); fmt.Sprint(got) != "[a_0 a_1]" {
		t.Fatalf("read %v", got)
	}
	q.Resume = r.Cursor()
	r.Close()
	r, err = f.Open(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	// Before reading, the cursor is still the one it opened with.
	if r.Cursor() != q.Resume {
		t.Fatalf("cursor %q, opened with %q", r.Cursor(), q.Resume)
	}
	if got := read(t, r, 4); fmt.Sprint(got) != "[a_2 a_3 a_4 a_5]" {
		t.Fatalf("resumed with %v", got)
	}
	quiet(t, r)
	r.Close()

	// A session of srcB reads srcB's batch only.
	r, err = f.Open(context.Background(), api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcB}, Raw: true, Resume: "djE6cjow"}) // "v1:r:0"
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := read(t, r, 2); fmt.Sprint(got) != "[b_0 b_1]" {
		t.Fatalf("srcB read %v", got)
	}
	quiet(t, r)
}

// Receipts of different tenants, or of verified and unverified requests,
// are never published in one message.
func TestPublishBatchRefusesMixedSubjects(t *testing.T) {
	conn := backboneConn(t)
	for name, rcs := range map[string][]*plugsv1.Receipt{
		"two tenants":             {accepted(tenant, srcA, "a"), accepted(otherTenant, srcA, "b")},
		"verified and unverified": {accepted(tenant, srcA, "a"), {Id: uuid.NewString(), TenantId: tenant, SourceId: srcA, Unverified: true}},
	} {
		if err := receipts.PublishBatch(context.Background(), conn.JS, rcs); !errors.Is(err, receipts.ErrMixedBatch) {
			t.Fatalf("a batch of %s: %v", name, err)
		}
	}
}

// Receipts of several of a tenant's sources share one message on the
// tenant's batch subject; a session reads those of its own sources out of
// it and no other's, not even one of another tenant slipped into it.
func TestRawReadsTenantBatches(t *testing.T) {
	conn := backboneConn(t)
	f := &listenfeed.Feed{JS: conn.JS}
	open := func(q api.ListenQuery) api.ListenReader {
		r, err := f.Open(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	ra := open(api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA}, Raw: true})
	rb := open(api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcB}, Raw: true})
	rab := open(api.ListenQuery{TenantID: tenant, SourceIDs: []string{srcA, srcB}, Raw: true})
	ro := open(api.ListenQuery{TenantID: otherTenant, SourceIDs: []string{srcA}, Raw: true})
	batch(t, conn, accepted(tenant, srcA, "a_0"), accepted(tenant, srcB, "b_0"), accepted(tenant, srcA, "a_1"))
	forged := &plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{accepted(otherTenant, srcA, "other_tenant"), accepted(tenant, srcB, "b_1")}}
	data, err := proto.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(backbone.ReceiptBatchSubject(tenant))
	m.Data = data
	m.Header.Set(backbone.BatchHeader, "2")
	if _, err := conn.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := read(t, ra, 2); fmt.Sprint(got) != "[a_0 a_1]" {
		t.Fatalf("srcA read %v", got)
	}
	if got := read(t, rb, 2); fmt.Sprint(got) != "[b_0 b_1]" {
		t.Fatalf("srcB read %v", got)
	}
	if got := read(t, rab, 4); fmt.Sprint(got) != "[a_0 b_0 a_1 b_1]" {
		t.Fatalf("both read %v", got)
	}
	for _, r := range []api.ListenReader{ra, rb, rab, ro} {
		quiet(t, r)
	}
}
