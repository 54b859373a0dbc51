package server_test

import (
	"github.com/plugshq/plugs/controlplane/config"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/plugshq/plugs/controlplane/api"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Deleting a source takes it out of every destination that lists it, in the
// same change the data planes get; a destination it was the only source of
// routes no source from then on, never every source.
func TestDeletingSourceUnroutesIt(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeletingSourceUnroutesIt(t, d) })
	}
}

func testDeletingSourceUnroutesIt(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	a := as(e.keyA)
	newSrc := func(name string) *plugsv1.Source {
		t.Helper()
		s, err := e.sources().CreateSource(a, newSource(name, secretA))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	gone, kept := newSrc("gone"), newSrc("kept")
	newDest := func(key, name string, sources ...string) *plugsv1.Destination {
		t.Helper()
		req := createDestReq(name, "https://billing.example.com/"+name, destKeyA1)
		req.Destination.SourceIds = sources
		d, err := e.destSvc().CreateDestination(as(key), req)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	both := newDest(e.keyA, "both", gone.GetId(), kept.GetId())
	only := newDest(e.keyA, "only", gone.GetId())
	every := newDest(e.keyA, "every")
	other := newDest(e.keyA, "other", kept.GetId())
	// Another tenant's destination taking every source of that tenant.
	theirs := newDest(e.keyB, "theirs")
	waitRevision(t, e, theirs.GetRevision())
	before := e.srv.Cache.Revision()

	if _, err := e.sources().DeleteSource(a, &plugsv1.DeleteSourceRequest{Id: gone.GetId()}); err != nil {
		t.Fatal(err)
	}
	get := func(ctx string, d *plugsv1.Destination) *plugsv1.Destination {
		t.Helper()
		got, err := e.destSvc().GetDestination(as(ctx), &plugsv1.GetDestinationRequest{Id: d.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	nowBoth, nowOnly := get(e.keyA, both), get(e.keyA, only)
	if !slices.Equal(nowBoth.GetSourceIds(), []string{kept.GetId()}) || nowBoth.GetRevision() <= both.GetRevision() {
		t.Errorf("a destination of two sources lists %v at revision %d, want [%s] at a new revision",
			nowBoth.GetSourceIds(), nowBoth.GetRevision(), kept.GetId())
	}
	if !slices.Equal(nowOnly.GetSourceIds(), []string{api.NoSources}) || nowOnly.GetRevision() <= only.GetRevision() {
		t.Errorf("a destination of the deleted source alone lists %v at revision %d, want [%s] at a new revision",
			nowOnly.GetSourceIds(), nowOnly.GetRevision(), api.NoSources)
	}
	// What it already holds is still delivered: it is not paused.
	if nowOnly.GetStatus() != plugsv1.Destination_STATUS_ACTIVE {
		t.Errorf("status %v, want STATUS_ACTIVE", nowOnly.GetStatus())
	}
	for _, d := range []*plugsv1.Destination{every, other} {
		if now := get(e.keyA, d); now.GetRevision() != d.GetRevision() || !slices.Equal(now.GetSourceIds(), d.GetSourceIds()) {
			t.Errorf("%s changed: %v at %d, was %v at %d", d.GetDisplayName(), now.GetSourceIds(), now.GetRevision(), d.GetSourceIds(), d.GetRevision())
		}
	}
	if now := get(e.keyB, theirs); now.GetRevision() != theirs.GetRevision() {
		t.Errorf("another tenant's destination changed at %d", now.GetRevision())
	}

	// The data planes get the removal and both new routes in one update,
	// and route nothing of the tenant's remaining source to "only".
	waitRevision(t, e, max(nowBoth.GetRevision(), nowOnly.GetRevision()))
	u := e.srv.Cache.UpdateFrom(config.Held{Revision: before})
	if !slices.Equal(u.Removed, []string{gone.GetId()}) {
		t.Errorf("update removes sources %v, want [%s]", u.Removed, gone.GetId())
	}
	var changed []string
	for _, dc := range u.Destinations {
		changed = append(changed, dc.GetId())
		tenant := dc.GetTenantId()
		if dc.GetId() == only.GetId() && (forward.Routes(dc, tenant, kept.GetId()) || forward.Routes(dc, tenant, gone.GetId())) {
			t.Errorf("the data planes route a source to a destination whose only source was deleted: %v", dc.GetSourceIds())
		}
		if dc.GetId() == both.GetId() && (!forward.Routes(dc, tenant, kept.GetId()) || forward.Routes(dc, tenant, gone.GetId())) {
			t.Errorf("the data planes route %v to the destination of two sources", dc.GetSourceIds())
		}
	}
	slices.Sort(changed)
	want := []string{both.GetId(), only.GetId()}
	slices.Sort(want)
	if !slices.Equal(changed, want) {
		t.Errorf("update changes destinations %v, want %v", changed, want)
	}

	// The marker stands alone; set with it, a destination takes no source.
	_, err := e.destSvc().UpdateDestination(a, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: only.GetId(), SourceIds: []string{api.NoSources, kept.GetId()}},
		UpdateMask:  pathsMask("source_ids"),
	})
	wantCode(t, err, codes.InvalidArgument)
	req := createDestReq("later", "https://billing.example.com/later", destKeyA1)
	req.Destination.SourceIds = []string{api.NoSources}
	if d, err := e.destSvc().CreateDestination(a, req); err != nil || !slices.Equal(d.GetSourceIds(), []string{api.NoSources}) {
		t.Fatalf("create routed to no source: %v %v", d, err)
	}
	// Choosing sources again replaces the marker.
	up, err := e.destSvc().UpdateDestination(a, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: only.GetId(), SourceIds: []string{kept.GetId()}},
		UpdateMask:  pathsMask("source_ids"),
	})
	if err != nil || !slices.Equal(up.GetSourceIds(), []string{kept.GetId()}) {
		t.Fatalf("route again: %v %v", up, err)
	}
	// The deleted source cannot be routed again.
	_, err = e.destSvc().UpdateDestination(a, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: other.GetId(), SourceIds: []string{gone.GetId()}},
		UpdateMask:  pathsMask("source_ids"),
	})
	wantCode(t, err, codes.NotFound)
}

// waitRevision waits for the control plane's configuration to reach rev.
func waitRevision(t *testing.T, e *env, rev int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Cache.Revision() < rev {
		if time.Now().After(deadline) {
			t.Fatalf("the configuration revision never reached %d", rev)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
