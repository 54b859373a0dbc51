package snapshot_test

import (
	"fmt"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// stripeSource is a source on the Stripe template's defaults, as the
// control plane sends it: messages of its own, a secret of its own.
func stripeSource(tb testing.TB, i int) *plugsv1.SourceConfig {
	tb.Helper()
	tpl, err := templates.MustBuiltin().Get("stripe")
	if err != nil {
		tb.Fatal(err)
	}
	return &plugsv1.SourceConfig{
		Id: fmt.Sprintf("0192d1a0-0000-7000-8000-%012d", i), TenantId: "tenant", TemplateId: "stripe",
		Status:          plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: proto.Clone(tpl.GetSignatureScheme()).(*plugsv1.SignatureScheme),
		FieldMappings:   proto.Clone(tpl.GetFieldMappings()).(*plugsv1.FieldMappings),
		MaxBodyBytes:    1 << 20,
		Secrets:         []*plugsv1.SigningSecret{{Id: "s", Value: fmt.Appendf(nil, "whsec_%032d", i)}},
	}
}

// Sources with equal mappings, filter and scheme share one mapper and one
// copy of those messages, within a configuration and with the one a delta
// is applied on; a source that differs gets its own; verifiers (secrets)
// are never shared.
func TestEqualSourcesShareCompiledParts(t *testing.T) {
	a, b := stripeSource(t, 1), stripeSource(t, 2)
	filtered := stripeSource(t, 3)
	filtered.EventFilter = &plugsv1.EventFilter{EventTypes: []string{"invoice.*"}}
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{a, b, filtered}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb, sf := cfg.Source(a.GetId()), cfg.Source(b.GetId()), cfg.Source(filtered.GetId())
	if sa.Mapper != sb.Mapper || sa.Config.GetFieldMappings() != sb.Config.GetFieldMappings() ||
		sa.Config.GetSignatureScheme() != sb.Config.GetSignatureScheme() {
		t.Fatal("equal sources do not share their mapper and messages")
	}
	if sf.Mapper == sa.Mapper {
		t.Fatal("a source with another filter shares the mapper")
	}
	if sa.Verifier == sb.Verifier {
		t.Fatal("verifiers, which hold secrets, are shared")
	}

	// A delta shares with the configuration it applies to.
	c := stripeSource(t, 4)
	next, err := snapshot.Build(cfg, "2", false, []*plugsv1.SourceConfig{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.Source(c.GetId()).Mapper != sa.Mapper {
		t.Fatal("a source added by a delta does not share the existing mapper")
	}
	// Sharing changes nothing a source serves: each still maps with its
	// own mappings, which are equal to what it was sent.
	if !proto.Equal(next.Source(c.GetId()).Config.GetFieldMappings(), stripeSource(t, 4).GetFieldMappings()) {
		t.Fatal("shared mappings differ from the source's own")
	}
}

// BenchmarkCompile10kSources measures a full configuration of 10,000
// sources on one template's defaults: time to compile, and the heap the
// configuration holds per source (its messages included, as received).
func BenchmarkCompile10kSources(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		scs := make([]*plugsv1.SourceConfig, n)
		for i := range scs {
			scs[i] = stripeSource(b, i)
		}
		b.StartTimer()
		cfg, err := snapshot.Build(nil, "1", true, scs, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		scs = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/source")
		runtime.KeepAlive(cfg)
		b.StartTimer()
	}
}
