package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const dpToken = "dp-token-e2e"

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// world is one Plugs installation in the test process.
type world struct {
	t        *testing.T
	ingest   string // base URL of the data plane's receiver
	store    *snapshot.Store
	nats     *backbone.Conn
	sources  plugsv1.SourceServiceClient
	dests    plugsv1.DestinationServiceClient
	receipts plugsv1.ReceiptServiceClient
	ctx      context.Context // carries the tenant's API key
	db       *store.DB
	rest     string // base URL of the control plane's REST gateway
	grpcAddr string // the control plane's gRPC listener
	key      string // the tenant's API key
	// keyring is the control plane's, holding masterKey.
	keyring   *secrets.Keyring
	masterKey secrets.Key
}

func start(t *testing.T) *world {
	t.Helper()
	return startTraced(t, nil)
}

// startTraced is start with both planes traced by tp (nil: tracing off).
func startTraced(t *testing.T, tp trace.TracerProvider) *world {
	t.Helper()
	ctx := context.Background()
	nats, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	nc, err := backbone.Connect(ctx, backbone.Options{URL: nats.URL(), Name: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}

	db := storetest.Open(t, "sqlite")
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	// The ingest listener exists before the control plane, which sends
	// test events to it; it serves once the data plane is wired.
	mux := http.NewServeMux()
	ingest := httptest.NewUnstartedServer(mux)
	srv, err := server.Start(ctx, server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", PublicIngestURL: "http://ingest.test",
		IngestURL:       "http://" + ingest.Listener.Addr().String(),
		DataPlaneTokens: []string{dpToken}, AllowHTTPHosts: []string{"127.0.0.1"}, JetStream: nc.JS, Log: quiet,
		Tracing: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Stop(c)
	})
	_, key, err := auth.Bootstrap(ctx, db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// The data plane: configuration, receiver, forwarder.
	store := &snapshot.Store{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	cc := &configclient.Client{Conn: conn, Token: dpToken, Node: &plugsv1.Node{Id: "dp"}, Store: store, Log: quiet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	go func() { defer close(done); _ = cc.Run(runCtx) }()
	waitFor(t, "configuration", store.Ready)
	events := &backbone.EventStore{JS: nc.JS}
	recorder := receipts.New(nc.JS, 0, quiet)
	go recorder.Run(runCtx)
	receiver.New(pipeline.New(store, events, pipeline.Options{Log: quiet, Tracing: tp}),
		receiver.Options{Log: quiet, Receipts: recorder, NodeID: "dp"}).Register(mux)
	ingest.Start()
	guard, _ := egress.NewGuard([]string{"127.0.0.0/8"})
	// The delivery log stops with runCtx, after the forwarder.
	attempts := forward.NewAttemptLog(nc.JS, "dp", 0, quiet)
	go attempts.Run(runCtx)
	fwd := forward.New(nc.JS, snapshot.Routes{Store: store}, forward.Options{Guard: guard, Log: quiet, ReconcileEvery: 50 * time.Millisecond,
		OnAttempt: attempts.Record, Tracing: tp})
	fwdDone := make(chan struct{})
	go func() { defer close(fwdDone); _ = fwd.Run(runCtx) }()
	t.Cleanup(func() {
		ingest.Close()
		fwd.Stop()
		cancel()
		<-done
		<-fwdDone
	})
	return &world{
		t: t, ingest: ingest.URL, store: store, nats: nc,
		sources: plugsv1.NewSourceServiceClient(conn), dests: plugsv1.NewDestinationServiceClient(conn),
		receipts: plugsv1.NewReceiptServiceClient(conn),
		ctx:      metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key),
		db:       db,
		rest:     "http://" + srv.HTTPAddr,
		grpcAddr: srv.GRPCAddr,
		key:      key,
		keyring:  kr, masterKey: k,
	}
}

const stripeSecret = "whsec_e2e_0123456789abcdefghij"

// stripeSource creates a Stripe source and waits for the data plane to
// have it.
func (w *world) stripeSource() string {
	w.t.Helper()
	src, err := w.sources.CreateSource(w.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", MetricId: "invoices", Secret: stripeSecret,
	}})
	if err != nil {
		w.t.Fatal(err)
	}
	waitFor(w.t, "source on the data plane", func() bool { return w.store.Load().Source(src.GetId()) != nil })
	return src.GetId()
}

// destination registers a receiver and waits for the data plane to have it.
func (w *world) destination(url, key string, policy *plugsv1.RetryPolicy) string {
	w.t.Helper()
	d, err := w.dests.CreateDestination(w.ctx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "billing", Url: url, SharedKey: key, RetryPolicy: policy,
	}})
	if err != nil {
		w.t.Fatal(err)
	}
	waitFor(w.t, "destination on the data plane", func() bool { return w.store.Load().Destination(d.GetId()) != nil })
	return d.GetId()
}

// send posts a signed Stripe event and returns the status.
func (w *world) send(sourceID, body string) int {
	w.t.Helper()
	return w.sendSigned(sourceID, stripeSecret, body)
}

// sendSigned posts a Stripe event signed with secret and returns the
// status.
func (w *world) sendSigned(sourceID, secret, body string) int {
	w.t.Helper()
	return w.sendAs("stripe", sourceID, secret, body)
}

// sendSignedHeader is sendSigned that also returns the Stripe-Signature
// header sent.
func (w *world) sendSignedHeader(sourceID, secret, body string) (string, int) {
	w.t.Helper()
	h, code := w.post("stripe", sourceID, secret, body)
	return h.Get("Stripe-Signature"), code
}

// sendAs posts body signed with secret as the provider of a template
// signs, and returns the status.
func (w *world) sendAs(templateID, sourceID, secret, body string) int {
	w.t.Helper()
	_, code := w.post(templateID, sourceID, secret, body)
	return code
}

// post signs body as the template's provider would, posts it to the
// source and returns the headers sent and the status.
func (w *world) post(templateID, sourceID, secret, body string) (http.Header, int) {
	w.t.Helper()
	tpl, _ := templates.MustBuiltin().Get(templateID)
	s, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: []byte(body)}, time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, w.ingest+"/v1/ingest/webhook/"+sourceID, strings.NewReader(body))
	req.Header = s.Header.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return s.Header, resp.StatusCode
}

// billing is a customer's endpoint: it verifies each delivery with the
// consumer package and counts deliveries per provider event id.
type billing struct {
	srv      *httptest.Server
	mu       sync.Mutex
	byEvent  map[string]int
	requests int
	// fail answers 500 while it returns true.
	fail func(n int) bool
}

func newBilling(t *testing.T, key string) *billing {
	b := &billing{byEvent: map[string]int{}}
	v := &consumer.Verifier{Key: key}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.requests++
		n := b.requests
		fail := b.fail
		b.mu.Unlock()
		if fail != nil && fail(n) {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		ev, err := v.VerifyRequest(r)
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := ev.Usage.GetEventId()
		if ev.Usage.GetTest() {
			id = "test " + id // counted apart from the provider's events
		}
		b.mu.Lock()
		b.byEvent[id]++
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *billing) count(eventID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byEvent[eventID]
}

func (b *billing) distinct() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byEvent)
}

// settled reports whether the destination's queue is empty: nothing left
// to deliver or waiting for an acknowledgement.
func (w *world) settled(destID string) bool {
	c, err := w.nats.JS.Consumer(context.Background(), backbone.DeliveriesStream, forward.ConsumerName(destID))
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}
