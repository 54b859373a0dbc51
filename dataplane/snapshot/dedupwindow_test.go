package snapshot_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A source saved with a window shorter than its signed requests stay fresh
// (before the control plane refused such windows) is served with the longer
// one: Stripe's 300 s tolerance each way and a minute for clocks.
func TestDedupWindowCoversFreshness(t *testing.T) {
	short, long, untimed := stripeSource(t, 1), stripeSource(t, 2), stripeSource(t, 3)
	short.DedupWindow = durationpb.New(time.Minute)
	long.DedupWindow = durationpb.New(72 * time.Hour)
	untimed.DedupWindow = durationpb.New(2 * time.Minute)
	untimed.SignatureScheme.Timestamp = nil
	untimed.SignatureScheme.Structured.TimestampKey = ""
	untimed.SignatureScheme.SignedParts = []*plugsv1.SignedPart{{Kind: plugsv1.SignedPart_KIND_BODY}}
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{short, long, untimed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	if w := store.DedupWindow(short.GetId()); w != 0 {
		t.Fatalf("before any configuration: %s", w)
	}
	store.Swap(cfg)
	for _, c := range []struct {
		id   string
		want time.Duration
	}{
		{short.GetId(), 11 * time.Minute},
		{long.GetId(), 72 * time.Hour},
		{untimed.GetId(), 2 * time.Minute},
		{"0192d1a0-0000-7000-8000-999999999999", 0},
	} {
		if got := store.DedupWindow(c.id); got != c.want {
			t.Errorf("%s: window %s, want %s", c.id, got, c.want)
		}
	}
}
