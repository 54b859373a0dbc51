package snapshot_test

import (
	"maps"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func dest(id, key string) *plugsv1.DestinationConfig {
	return &plugsv1.DestinationConfig{Id: id, TenantId: "tenant", Url: "https://billing.example/" + id, SharedKey: []byte(key),
		Status: plugsv1.Destination_STATUS_ACTIVE}
}

func ids[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// An entry the control plane withholds keeps the version held, in a full
// snapshot as in a delta; one not held is served as its fallback (a
// destination without its key, routed but not delivered), or not at all.
// A destination absent from a full snapshot is dropped without being
// deleted; only a removal deletes.
func TestWithheldEntriesKeepWhatIsHeld(t *testing.T) {
	a, b := stripeSource(t, 1), stripeSource(t, 2)
	base, err := snapshot.Apply(nil, &plugsv1.StreamConfigResponse{VersionInfo: "1", Full: true,
		Sources: []*plugsv1.SourceConfig{a, b}, Destinations: []*plugsv1.DestinationConfig{dest("d1", "k1"), dest("d2", "k2")}})
	if err != nil {
		t.Fatal(err)
	}
	heldA, heldD1 := base.Source(a.GetId()), base.Destination("d1")

	noSecret := stripeSource(t, 3)
	noSecret.Secrets = nil
	keyless := dest("d3", "")
	keyless.SharedKey = nil
	full := &plugsv1.StreamConfigResponse{VersionInfo: "5", Full: true,
		Sources: []*plugsv1.SourceConfig{b},
		WithheldSources: []*plugsv1.WithheldSource{
			{Id: a.GetId(), Reason: "key unknown", Fallback: func() *plugsv1.SourceConfig { s := stripeSource(t, 1); s.Secrets = nil; return s }()},
			{Id: noSecret.GetId(), Reason: "key unknown", Fallback: noSecret},
			{Id: "0192d1a0-0000-7000-8000-000000000009", Reason: "template unknown"},
		},
		WithheldDestinations: []*plugsv1.WithheldDestination{
			{Id: "d1", Reason: "key unknown", Fallback: func() *plugsv1.DestinationConfig { d := dest("d1", ""); d.SharedKey = nil; return d }()},
			{Id: "d3", Reason: "key unknown", Fallback: keyless},
		},
		RemovedDestinationIds: []string{"d0"},
	}
	next, err := snapshot.Apply(base, full)
	if err != nil {
		t.Fatal(err)
	}
	if next.Source(a.GetId()) != heldA || next.Destination("d1") != heldD1 {
		t.Fatal("a withheld entry did not keep the version held")
	}
	if s := next.Source(noSecret.GetId()); s == nil || len(s.Config.GetSecrets()) != 0 {
		t.Fatal("a withheld source held nowhere is not served as its fallback")
	}
	if next.Source("0192d1a0-0000-7000-8000-000000000009") != nil {
		t.Fatal("a withheld source without a fallback is served")
	}
	if d := next.Destination("d3"); d == nil || len(d.GetSharedKey()) != 0 || len(next.DestinationsFor("tenant", "any")) != 2 {
		t.Fatal("a keyless fallback is not routed to")
	}
	if next.Destination("d2") != nil || next.DeletedDestinations["d2"] {
		t.Fatal("a destination absent from a full snapshot must be dropped, not deleted")
	}
	if !slices.Equal(ids(next.DeletedDestinations), []string{"d0"}) {
		t.Fatalf("deleted %v", ids(next.DeletedDestinations))
	}
	wantSources := []string{a.GetId(), "0192d1a0-0000-7000-8000-000000000009", noSecret.GetId()}
	slices.Sort(wantSources)
	if !slices.Equal(ids(next.WithheldSources), wantSources) || !slices.Equal(ids(next.WithheldDestinations), []string{"d1", "d3"}) {
		t.Fatalf("withheld %v %v", ids(next.WithheldSources), ids(next.WithheldDestinations))
	}

	// A configuration persisted and loaded again serves and reports the
	// same.
	again, err := snapshot.Apply(nil, next.Full())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again.Source(a.GetId()).Config, heldA.Config) || !proto.Equal(again.Destination("d1"), heldD1) ||
		!slices.Equal(ids(again.WithheldSources), ids(next.WithheldSources)) ||
		!slices.Equal(ids(again.WithheldDestinations), ids(next.WithheldDestinations)) ||
		!slices.Equal(ids(again.DeletedDestinations), []string{"d0"}) || len(again.Sources) != len(next.Sources) {
		t.Fatal("Full does not round-trip")
	}

	// A delta that can build them clears them; a removal deletes.
	delta, err := snapshot.Apply(next, &plugsv1.StreamConfigResponse{VersionInfo: "5", BaseVersion: "5",
		Sources: []*plugsv1.SourceConfig{stripeSource(t, 1)}, Destinations: []*plugsv1.DestinationConfig{dest("d1", "new")},
		RemovedDestinationIds: []string{"d3"}})
	if err != nil {
		t.Fatal(err)
	}
	if delta.WithheldSources[a.GetId()] || delta.WithheldDestinations["d1"] || delta.WithheldDestinations["d3"] ||
		string(delta.Destination("d1").GetSharedKey()) != "new" || delta.Destination("d3") != nil ||
		!slices.Equal(ids(delta.DeletedDestinations), []string{"d0", "d3"}) {
		t.Fatal("a delta did not bring the withheld entries back, or did not delete")
	}
}

// A destination with a key is still refused without one when it is not a
// fallback.
func TestDestinationWithoutKeyIsRefused(t *testing.T) {
	d := dest("d1", "")
	d.SharedKey = nil
	if _, err := snapshot.Apply(nil, &plugsv1.StreamConfigResponse{VersionInfo: "1", Full: true,
		Destinations: []*plugsv1.DestinationConfig{d}}); err == nil {
		t.Fatal("a keyless destination was accepted")
	}
}
