package config_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/templates"
)

// withheldWorld is a control plane with one source and one destination,
// and a data plane holding both.
type withheldWorld struct {
	t       *testing.T
	db      *store.DB
	kr      *secrets.Keyring
	oldKey  secrets.Key
	cp      *server.Server
	sources plugsv1.SourceServiceClient
	dests   plugsv1.DestinationServiceClient
	ctx     context.Context
	src     *plugsv1.Source
	dst     *plugsv1.Destination
	dp      *dataPlane
	// held are the data plane's source and destination before anything
	// was withheld.
	heldSource *plugsv1.SourceConfig
	heldDest   *plugsv1.DestinationConfig
}

func startWithheldWorld(t *testing.T, dialect string) *withheldWorld {
	t.Helper()
	w := &withheldWorld{t: t, db: storetest.Open(t, dialect)}
	w.oldKey, _ = secrets.GenerateKey()
	w.kr, _ = secrets.NewKeyring(w.oldKey)
	w.cp = w.startServer("127.0.0.1:0")
	cp := &controlPlane{srv: w.cp, db: w.db, kr: w.kr}
	w.sources, w.ctx = apiClient(t, cp, "tenant")
	w.dests = plugsv1.NewDestinationServiceClient(dial(t, w.cp.GRPCAddr))
	var err error
	w.src, err = w.sources.CreateSource(w.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", Secret: "whsec_0123456789abcdefghij",
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.dst, err = w.dests.CreateDestination(w.ctx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "billing", Url: "https://billing.example.com/usage", SharedKey: "shared-key-0123456789",
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.dp = startDataPlane(t, w.cp.GRPCAddr, "dp-1", nil)
	waitFor(t, "source and destination on the data plane", func() bool {
		cfg := w.dp.store.Load()
		return cfg.Source(w.src.GetId()) != nil && cfg.Destination(w.dst.GetId()) != nil
	})
	w.heldSource = w.dp.store.Load().Source(w.src.GetId()).Config
	w.heldDest = w.dp.store.Load().Destination(w.dst.GetId())
	return w
}

func (w *withheldWorld) startServer(addr string) *server.Server {
	w.t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		DB: w.db, Keyring: w.kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: addr, HTTPAddr: "127.0.0.1:0", PublicIngestURL: "http://ingest.test",
		DataPlaneTokens: []string{dpToken}, Log: quiet, PollInterval: 100 * time.Millisecond,
		Metrics: metrics.NewRegistry(), MetricsAddr: "127.0.0.1:0",
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { (&controlPlane{srv: srv}).stop() })
	return srv
}

// resealUnderUnknownKey re-seals everything under a key the control plane
// does not hold, as plugs keys rotate run elsewhere would, and returns it.
func (w *withheldWorld) resealUnderUnknownKey() secrets.Key {
	w.t.Helper()
	next, _ := secrets.GenerateKey()
	other, _ := secrets.NewKeyring(w.oldKey, next)
	n, err := store.ResealSecrets(context.Background(), w.db.Client, other)
	if err != nil || n != 2 {
		w.t.Fatalf("reseal: %d %v", n, err)
	}
	return next
}

// servesHeld reports whether the data plane still serves the source and
// destination it held, and knows them as withheld.
func (w *withheldWorld) servesHeld(d *dataPlane) bool {
	cfg := d.store.Load()
	s, dst := cfg.Source(w.src.GetId()), cfg.Destination(w.dst.GetId())
	return s != nil && dst != nil && proto.Equal(s.Config, w.heldSource) && proto.Equal(dst, w.heldDest) &&
		cfg.WithheldSources[w.src.GetId()] && cfg.WithheldDestinations[w.dst.GetId()] &&
		!cfg.DeletedDestinations[w.dst.GetId()]
}

func (w *withheldWorld) metric(name string) string {
	w.t.Helper()
	resp, err := http.Get("http://" + w.cp.MetricsAddr + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// A secret and a shared key re-sealed under a master key the control plane
// does not hold are withheld, never sent as deleted: the data plane keeps
// serving them, a data plane that held nothing gets them without secrets
// (failing closed, its deliveries queued), the API and the metrics say
// why. Once the key is added to the keyring they reach both data planes.
func TestUnopenableEntriesAreWithheldUntilTheKeyArrives(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			w := startWithheldWorld(t, dialect)
			// The revision before the re-seal: the cache may notice it
			// before the next line runs.
			rev := config.Version(w.cp.Cache.Revision())
			next := w.resealUnderUnknownKey()
			waitFor(t, "the data plane at the re-sealed revision", func() bool {
				return config.Version(w.cp.Cache.Revision()) != rev && w.dp.version() == config.Version(w.cp.Cache.Revision())
			})
			if !w.servesHeld(w.dp) {
				t.Fatal("the data plane does not serve what it held")
			}

			fresh := startDataPlane(t, w.cp.GRPCAddr, "dp-fresh", nil)
			waitFor(t, "a fresh data plane", func() bool { return fresh.version() == w.dp.version() })
			cfg := fresh.store.Load()
			if s := cfg.Source(w.src.GetId()); s == nil || len(s.Config.GetSecrets()) != 0 {
				t.Fatal("a fresh data plane must get the source without the secret that does not open")
			}
			if d := cfg.Destination(w.dst.GetId()); d == nil || len(d.GetSharedKey()) != 0 {
				t.Fatal("a fresh data plane must get the destination without its key")
			}

			src, err := w.sources.GetSource(w.ctx, &plugsv1.GetSourceRequest{Id: w.src.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if e := src.GetConfigurationError(); e.GetCause() != config.CauseKeyUnknown || !strings.Contains(e.GetMessage(), next.ID) ||
				e.GetSinceTime() == nil {
				t.Fatalf("source configuration error %v", e)
			}
			list, err := w.dests.ListDestinations(w.ctx, &plugsv1.ListDestinationsRequest{})
			if err != nil || len(list.GetDestinations()) != 1 || list.GetDestinations()[0].GetConfigurationError().GetCause() != config.CauseKeyUnknown {
				t.Fatalf("destination configuration error: %v %v", list, err)
			}
			if s, d := w.metric(`plugs_controlplane_config_withheld{kind="source"}`), w.metric(`plugs_controlplane_config_withheld{kind="destination"}`); s != "1" || d != "1" {
				t.Fatalf("withheld metric: source %q destination %q", s, d)
			}

			// The key arrives (the key file reloaded): both data planes get
			// the source and destination, now at the same revision.
			if _, err := w.kr.Replace(w.oldKey, next); err != nil {
				t.Fatal(err)
			}
			for _, d := range []*dataPlane{w.dp, fresh} {
				waitFor(t, d.id+" to get the rebuilt entries", func() bool {
					cfg := d.store.Load()
					s, dst := cfg.Source(w.src.GetId()), cfg.Destination(w.dst.GetId())
					return len(cfg.WithheldSources) == 0 && len(cfg.WithheldDestinations) == 0 &&
						s != nil && proto.Equal(s.Config.GetSecrets()[0], w.heldSource.GetSecrets()[0]) &&
						dst != nil && string(dst.GetSharedKey()) == string(w.heldDest.GetSharedKey())
				})
			}
			if src, _ := w.sources.GetSource(w.ctx, &plugsv1.GetSourceRequest{Id: w.src.GetId()}); src.GetConfigurationError() != nil {
				t.Fatalf("configuration error after the key arrived: %v", src.GetConfigurationError())
			}
			if s := w.metric(`plugs_controlplane_config_withheld{kind="source"}`); s != "0" {
				t.Fatalf("withheld metric %q after recovery", s)
			}
		})
	}
}

// A control plane restarted with the missing key sends a data plane the
// entries it serves from before they were withheld, although the revision
// has not moved. A destination deleted while a data plane was away is
// named as deleted in the full snapshot it gets on return.
func TestWithheldEntriesRecoverAfterRestartAndDeletionsReachFullSnapshots(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			w := startWithheldWorld(t, dialect)
			addr := w.cp.GRPCAddr
			next := w.resealUnderUnknownKey()
			waitFor(t, "the data plane at the re-sealed revision", func() bool {
				return w.dp.version() == config.Version(w.cp.Cache.Revision()) && w.servesHeld(w.dp)
			})
			held := w.dp.version()
			(&controlPlane{srv: w.cp}).stop()

			if _, err := w.kr.Replace(w.oldKey, next); err != nil {
				t.Fatal(err)
			}
			w.cp = w.startServer(addr)
			waitFor(t, "the withheld entries after the restart", func() bool {
				cfg := w.dp.store.Load()
				return len(cfg.WithheldSources) == 0 && len(cfg.WithheldDestinations) == 0
			})
			if w.dp.version() != held {
				t.Fatalf("version %s, want %s: the revision did not move", w.dp.version(), held)
			}

			// Away while the destination is deleted: the full snapshot it
			// starts from says so.
			w.dp.stop()
			before := w.cp.Cache.Revision()
			if _, err := w.dests.DeleteDestination(w.ctx, &plugsv1.DeleteDestinationRequest{Id: w.dst.GetId()}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the deletion in the cache", func() bool { return w.cp.Cache.Revision() > before })
			back := startDataPlane(t, addr, "dp-back", nil)
			waitFor(t, "a data plane from nothing", func() bool { return back.version() == config.Version(w.cp.Cache.Revision()) })
			resps := back.rec.responses()
			if len(resps) == 0 || !resps[0].GetFull() || !slices.Contains(resps[0].GetRemovedDestinationIds(), w.dst.GetId()) {
				t.Fatalf("full snapshot without the deletion: %v", resps)
			}
			if !back.store.Load().DeletedDestinations[w.dst.GetId()] || back.store.Load().Destination(w.dst.GetId()) != nil {
				t.Fatal("the data plane does not know the destination was deleted")
			}
		})
	}
}

// A template this binary does not know fails a source that relies on it,
// and not one that overrides everything the template would give; a
// destination whose stored retry policy does not decode is withheld with a
// keyless fallback, so events are still routed to it.
func TestBuildErrors(t *testing.T) {
	kr := newKeyring(t)
	snap := &config.Snapshotter{Catalog: templates.MustBuiltin(), Keyring: kr, Log: quiet}
	tpl, _ := templates.MustBuiltin().Get("stripe")
	scheme, _ := config.MarshalOverride(tpl.GetSignatureScheme())
	mappings, _ := config.MarshalOverride(tpl.GetFieldMappings())

	src := &ent.Source{ID: uuid.New(), TenantID: uuid.New(), TemplateID: "gone-from-this-release"}
	sc, err := snap.SourceConfig(src)
	var be *config.BuildError
	if !errors.As(err, &be) || be.Cause != config.CauseTemplateUnknown || !errors.Is(err, config.ErrUnbuildable) || sc != nil {
		t.Fatalf("unknown template: %v %v", sc, err)
	}
	src.SignatureScheme, src.FieldMappings = scheme, mappings
	if sc, err := snap.SourceConfig(src); err != nil || sc.GetSignatureScheme() == nil {
		t.Fatalf("overridden source: %v %v", sc, err)
	}

	id, tenant := uuid.New(), uuid.New()
	keyID, sealed, _ := kr.Seal([]byte("shared-key"), secrets.DestinationBinding(tenant.String(), id.String()))
	d := &ent.Destination{ID: id, TenantID: tenant, URL: "https://billing.example.com", KeyID: keyID, SharedKeyCiphertext: sealed,
		RetryPolicy: []byte{0xff, 0xff}}
	dc, err := snap.DestinationConfig(d)
	if !errors.As(err, &be) || be.Cause != config.CauseSettingUnreadable || dc == nil || len(dc.GetSharedKey()) != 0 || dc.GetTenantId() != tenant.String() {
		t.Fatalf("unreadable retry policy: %v %v", dc, err)
	}
}
