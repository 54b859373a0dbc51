package config_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// mutator applies random configuration changes through the API.
type mutator struct {
	t     *testing.T
	api   plugsv1.SourceServiceClient
	dests plugsv1.DestinationServiceClient
	dids  []string
	// destsMade counts destinations created, some deleted since.
	destsMade int
	ctx       context.Context
	rnd       *rand.Rand
	ids       []string
	n         int
}

func (m *mutator) step() {
	m.t.Helper()
	m.n++
	tpls := []string{"stripe", "github", "custom", "slack", "svix"}
	op := m.rnd.IntN(10)
	if len(m.ids) < 3 {
		op = 0
	}
	var err error
	switch op {
	case 0: // create
		var src *plugsv1.Source
		src, err = m.api.CreateSource(m.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
			DisplayName: fmt.Sprintf("s%d", m.n), TemplateId: tpls[m.rnd.IntN(len(tpls))], MetricId: "m",
			Secret: whsec(m.n),
		}})
		if err == nil {
			m.ids = append(m.ids, src.GetId())
		}
	case 1: // rename
		_, err = m.api.UpdateSource(m.ctx, &plugsv1.UpdateSourceRequest{
			Source:     &plugsv1.Source{Id: m.pick(), DisplayName: fmt.Sprintf("renamed %d", m.n)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		})
	case 2: // filter
		_, err = m.api.UpdateSource(m.ctx, &plugsv1.UpdateSourceRequest{
			Source:     &plugsv1.Source{Id: m.pick(), EventFilter: &plugsv1.EventFilter{EventTypes: []string{fmt.Sprintf("t%d.*", m.n)}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"event_filter"}},
		})
	case 3: // disable or enable
		st := plugsv1.Source_STATUS_DISABLED
		if m.rnd.IntN(2) == 0 {
			st = plugsv1.Source_STATUS_ACTIVE
		}
		_, err = m.api.UpdateSource(m.ctx, &plugsv1.UpdateSourceRequest{
			Source: &plugsv1.Source{Id: m.pick(), Status: st}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
	case 4: // rotate
		_, err = m.api.RotateSecret(m.ctx, &plugsv1.RotateSecretRequest{
			Id: m.pick(), Secret: whsec(1000 + m.n), PreviousSecretTtl: durationpb.New(time.Hour),
		})
	case 5: // delete
		i := m.rnd.IntN(len(m.ids))
		_, err = m.api.DeleteSource(m.ctx, &plugsv1.DeleteSourceRequest{Id: m.ids[i]})
		m.ids = append(m.ids[:i], m.ids[i+1:]...)
	case 7: // a destination
		var d *plugsv1.Destination
		d, err = m.dests.CreateDestination(m.ctx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
			DisplayName: fmt.Sprintf("d%d", m.n), Url: fmt.Sprintf("https://billing%d.example.com/hook", m.n),
			SharedKey: whsec(5000 + m.n), SourceIds: []string{m.pick()},
		}})
		if err == nil {
			m.dids = append(m.dids, d.GetId())
			m.destsMade++
		}
	case 8: // pause or resume one
		if len(m.dids) == 0 {
			return
		}
		st := plugsv1.Destination_STATUS_PAUSED
		if m.rnd.IntN(2) == 0 {
			st = plugsv1.Destination_STATUS_ACTIVE
		}
		_, err = m.dests.UpdateDestination(m.ctx, &plugsv1.UpdateDestinationRequest{
			Destination: &plugsv1.Destination{Id: m.dids[m.rnd.IntN(len(m.dids))], Status: st},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
	case 9: // delete one
		if len(m.dids) == 0 {
			return
		}
		i := m.rnd.IntN(len(m.dids))
		_, err = m.dests.DeleteDestination(m.ctx, &plugsv1.DeleteDestinationRequest{Id: m.dids[i]})
		m.dids = append(m.dids[:i], m.dids[i+1:]...)
	case 6: // body limit
		_, err = m.api.UpdateSource(m.ctx, &plugsv1.UpdateSourceRequest{
			Source:     &plugsv1.Source{Id: m.pick(), MaxBodyBytes: int64(1000 + m.n)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max_body_bytes"}},
		})
	}
	if err != nil {
		m.t.Fatalf("op %d: %v", op, err)
	}
}

// whsec is a secret every template accepts: "whsec_" and base64.
func whsec(n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("signing-secret-%08d", n)))
}

func (m *mutator) pick() string { return m.ids[m.rnd.IntN(len(m.ids))] }

// Data planes kept current by deltas end up with exactly the configuration
// a full snapshot gives, after random sequences of changes; a data plane
// that joins late starts from a full snapshot, and one that restarts with
// what it held resumes with a delta.
func TestDeltasMatchFullSnapshots(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDeltasMatchFullSnapshots(t, d) })
	}
}

func testDeltasMatchFullSnapshots(t *testing.T, dialect string) {
	cp := startControlPlane(t, storetest.Open(t, dialect), newKeyring(t), "127.0.0.1:0")
	api, ctx := apiClient(t, cp, "tenant")
	m := &mutator{t: t, api: api, dests: plugsv1.NewDestinationServiceClient(dial(t, cp.srv.GRPCAddr)), ctx: ctx,
		rnd: rand.New(rand.NewPCG(7, uint64(len(dialect))))}
	dps := []*dataPlane{
		startDataPlane(t, cp.srv.GRPCAddr, "dp-a", nil),
		startDataPlane(t, cp.srv.GRPCAddr, "dp-b", nil),
	}
	for round := range 6 {
		for range 12 {
			m.step()
		}
		switch round {
		case 2:
			dps = append(dps, startDataPlane(t, cp.srv.GRPCAddr, "dp-late", nil))
		case 3:
			// dp-b restarts and comes back with what it held.
			held := dps[1].store
			dps[1].stop()
			for range 5 {
				m.step()
			}
			dps[1] = startDataPlane(t, cp.srv.GRPCAddr, "dp-b", held)
		}
		version, ref, refDests := referenceAll(t, cp)
		for _, d := range dps {
			waitFor(t, d.id+" at "+version, func() bool { return d.version() == version })
			if diff := sameAsReference(d, version, ref); diff != "" {
				t.Fatalf("round %d, %s: %s", round, d.id, diff)
			}
			if diff := sameDestinations(d, refDests); diff != "" {
				t.Fatalf("round %d, %s: %s", round, d.id, diff)
			}
		}
	}
	if m.destsMade == 0 {
		t.Fatal("the random sequence made no destination")
	}
	// Every source shows that all three data planes run its revision.
	waitFor(t, "rollout counts", func() bool {
		for _, id := range m.ids {
			s, err := api.GetSource(ctx, &plugsv1.GetSourceRequest{Id: id})
			if err != nil || s.GetDataPlanesCurrent() != int32(len(dps)) || s.GetDataPlanesConnected() != int32(len(dps)) {
				return false
			}
		}
		return true
	})
	for _, d := range dps {
		resps := d.rec.responses()
		if len(resps) < 2 {
			t.Fatalf("%s: %d responses", d.id, len(resps))
		}
		// dp-b's recorder started with its restart, when it held a version.
		if wantFull := d != dps[1]; resps[0].GetFull() != wantFull {
			t.Errorf("%s: first response full=%v, want %v", d.id, resps[0].GetFull(), wantFull)
		}
		for i, r := range resps[1:] {
			if r.GetFull() {
				t.Errorf("%s: response %d is a full snapshot, want a delta", d.id, i+1)
			}
			if r.GetBaseVersion() == "" {
				t.Errorf("%s: delta %d without base", d.id, i+1)
			}
		}
	}
}

// A data plane that rejects a version is not sent that version again; the
// next change brings a new one, computed from what it still runs.
func TestRejectedVersionIsNotResent(t *testing.T) {
	cp := startControlPlane(t, storetest.Open(t, "sqlite"), newKeyring(t), "127.0.0.1:0")
	api, actx := apiClient(t, cp, "tenant")
	create := func(name string) {
		t.Helper()
		src, err := api.CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
			DisplayName: name, TemplateId: "stripe", Secret: "whsec_0123456789abcdefghij",
		}})
		if err != nil {
			t.Fatal(err)
		}
		// The shared cache follows commits in the background.
		waitFor(t, "the cache at the new revision", func() bool { return cp.srv.Cache.Revision() >= src.GetRevision() })
	}
	create("one")

	conn := dial(t, cp.srv.GRPCAddr)
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+dpToken))
	defer cancel()
	st, err := plugsv1.NewConfigDiscoveryServiceClient(conn).StreamConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&plugsv1.StreamConfigRequest{Node: &plugsv1.Node{Id: "picky"}}); err != nil {
		t.Fatal(err)
	}
	first, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	// Reject it, keeping nothing.
	if err := st.Send(&plugsv1.StreamConfigRequest{ResponseNonce: first.GetNonce(), ErrorDetail: &plugsv1.ConfigError{Message: "no thanks"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejection in the status", func() bool {
		dps, err := plugsv1.NewDataPlaneServiceClient(conn).ListDataPlanes(actx, &plugsv1.ListDataPlanesRequest{})
		return err == nil && len(dps.GetDataPlanes()) == 1 && dps.GetDataPlanes()[0].GetNackVersion() == first.GetVersionInfo()
	})
	// Its reason is the operator's: it may quote any tenant's configuration.
	row, err := cp.db.Client.DataPlane.Get(viewer.System(context.Background()), "picky")
	if err != nil || row.NackError != "no thanks" {
		t.Fatalf("stored rejection %v %v", row, err)
	}
	// Wait past several revision polls and heartbeats worth of wake-ups,
	// then change the configuration: the next response must be the new
	// version, not the rejected one again.
	cp.db.Revisions.Fire()
	cp.db.Revisions.Fire()
	create("two")
	next, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if next.GetVersionInfo() == first.GetVersionInfo() {
		t.Fatalf("rejected version %s sent again", first.GetVersionInfo())
	}
	if !next.GetFull() || len(next.GetSources()) != 2 {
		t.Fatalf("a data plane holding nothing gets everything: full=%v sources=%d", next.GetFull(), len(next.GetSources()))
	}
	if err := st.Send(&plugsv1.StreamConfigRequest{ResponseNonce: next.GetNonce(), VersionInfo: next.GetVersionInfo()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ACK in the status", func() bool {
		dps, err := plugsv1.NewDataPlaneServiceClient(conn).ListDataPlanes(actx, &plugsv1.ListDataPlanesRequest{})
		return err == nil && len(dps.GetDataPlanes()) == 1 && dps.GetDataPlanes()[0].GetAckedVersion() == next.GetVersionInfo() &&
			dps.GetDataPlanes()[0].GetConnected()
	})
}

// A control plane that restarts on the same database and a data plane
// that restarts with what it held converge; while the control plane is
// down the data plane keeps answering webhooks with its last configuration.
func TestRestartsConvergeAndDataPlaneServesMeanwhile(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	kr := newKeyring(t)
	cp := startControlPlane(t, db, kr, "127.0.0.1:0")
	addr := cp.srv.GRPCAddr
	api, actx := apiClient(t, cp, "tenant")
	src, err := api.CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", Secret: "whsec_0123456789abcdefghij",
	}})
	if err != nil {
		t.Fatal(err)
	}
	dp := startDataPlane(t, addr, "dp-1", nil)
	waitFor(t, "source delivered", func() bool { return dp.store.Load().Source(src.GetId()) != nil })

	// The data plane's ingest endpoint.
	p := pipeline.New(dp.store, keepNothing{}, pipeline.Options{Log: quiet})
	mux := http.NewServeMux()
	receiver.New(p, receiver.Options{Log: quiet}).Register(mux)
	ingest := httptest.NewServer(mux)
	defer ingest.Close()
	send := func() int {
		t.Helper()
		body := `{"id":"evt_1","type":"invoice.paid"}`
		tpl, _ := templates.MustBuiltin().Get("stripe")
		s, err := verify.Sign(tpl.GetSignatureScheme(), "whsec_0123456789abcdefghij", verify.Message{Body: []byte(body)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", ingest.URL+"/v1/ingest/webhook/"+src.GetId(), strings.NewReader(body))
		req.Header = s.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(); code != 200 {
		t.Fatalf("ingest answered %d", code)
	}

	cp.stop()
	if code := send(); code != 200 {
		t.Fatalf("with the control plane down, ingest answered %d", code)
	}
	held := dp.store.Load().Version
	dp.stop()

	// Both come back: the control plane on the same address and database,
	// the data plane with what it held; a change made meanwhile arrives as
	// a delta.
	cp2 := startControlPlane(t, db, kr, addr)
	api2, actx2 := apiClient(t, cp2, "tenant-2")
	other, err := api2.CreateSource(actx2, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "gh", TemplateId: "github", Secret: "github-secret-0123456789",
	}})
	if err != nil {
		t.Fatal(err)
	}
	dp2 := startDataPlane(t, addr, "dp-1", dp.store)
	version, ref := reference(t, cp2)
	waitFor(t, "restarted data plane current", func() bool { return dp2.version() == version })
	if diff := sameAsReference(dp2, version, ref); diff != "" {
		t.Fatal(diff)
	}
	resps := dp2.rec.responses()
	if len(resps) == 0 || resps[0].GetFull() || resps[0].GetBaseVersion() != held {
		t.Fatalf("resume: want a delta from %s, got %v", held, resps)
	}
	if dp2.store.Load().Source(other.GetId()) == nil {
		t.Fatal("new source missing")
	}
	if code := send(); code != 200 {
		t.Fatalf("after restarts ingest answered %d", code)
	}
}

// Two control-plane replicas on one PostgreSQL database both push a change
// made through the other.
func TestReplicasPushEachOthersChanges(t *testing.T) {
	if !has(storetest.Dialects(t), "postgres") {
		t.Skip("needs PostgreSQL (PLUGS_TEST_DATABASE_URL)")
	}
	dbURL, dir := storetest.URL(t, "postgres")
	open := func() *store.DB {
		db, err := store.Open(context.Background(), dbURL, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	kr := newKeyring(t)
	cpA := startControlPlane(t, open(), kr, "127.0.0.1:0")
	cpB := startControlPlane(t, open(), kr, "127.0.0.1:0")
	dpA := startDataPlane(t, cpA.srv.GRPCAddr, "on-a", nil)
	dpB := startDataPlane(t, cpB.srv.GRPCAddr, "on-b", nil)
	apiA, ctxA := apiClient(t, cpA, "tenant-a")
	apiB, ctxB := apiClient(t, cpB, "tenant-b")
	viaA, err := apiA.CreateSource(ctxA, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "a", TemplateId: "stripe", Secret: "whsec_0123456789abcdefghij"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica B pushes A's change", func() bool { return dpB.store.Load().Source(viaA.GetId()) != nil })
	viaB, err := apiB.CreateSource(ctxB, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{DisplayName: "b", TemplateId: "github", Secret: "github-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica A pushes B's change", func() bool { return dpA.store.Load().Source(viaB.GetId()) != nil })
	version, ref := reference(t, cpA)
	for _, d := range []*dataPlane{dpA, dpB} {
		waitFor(t, d.id+" current", func() bool { return d.version() == version })
		if diff := sameAsReference(d, version, ref); diff != "" {
			t.Fatalf("%s: %s", d.id, diff)
		}
	}
	// Either replica lists both data planes.
	conn := dial(t, cpB.srv.GRPCAddr)
	waitFor(t, "both data planes listed with their versions", func() bool {
		dps, err := plugsv1.NewDataPlaneServiceClient(conn).ListDataPlanes(ctxB, &plugsv1.ListDataPlanesRequest{})
		if err != nil || len(dps.GetDataPlanes()) != 2 {
			return false
		}
		for _, d := range dps.GetDataPlanes() {
			if !d.GetConnected() || d.GetAckedVersion() != version {
				return false
			}
		}
		return true
	})
	// And the source shows both run its current revision.
	waitFor(t, "rollout count", func() bool {
		s, err := apiB.GetSource(ctxB, &plugsv1.GetSourceRequest{Id: viaB.GetId()})
		return err == nil && s.GetDataPlanesCurrent() == 2 && s.GetDataPlanesConnected() == 2
	})
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = config.Version

// keepNothing is a sink for tests that look only at the answers.
type keepNothing struct{}

func (keepNothing) Enqueue(context.Context, *plugsv1.UsageEvent) (bool, error) { return false, nil }
