package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// The crash tests: a data plane SIGKILLed under load and restarted, and the
// NATS server restarted under load. Each checks that no webhook answered
// 200 is lost and that no event is stored twice.
//
// Deliveries are at least once: an attempt the destination took but whose
// ack had not reached JetStream when its forwarder died is made again, with
// the same webhook-id. So where the killed process forwards, second
// deliveries are counted and must carry the same webhook-id; where it only
// receives (--roles receive, forwarding in another process), and across a
// NATS restart (acks are retried until the server takes them), none is
// allowed.
//
// Recovery after a SIGKILL is bounded by the consumers' ack waits: an event
// the dead router held comes back after 30 s, a delivery the dead deliverer
// held after the destination's timeout plus 30 s. The tests run in parallel
// so that the waits overlap.

// crashDeadline bounds the wait for everything to be delivered: past the
// longest ack wait (the destination's 2 s timeout + 30 s) with room for a
// loaded machine.
const crashDeadline = 100 * time.Second

// Kill the data plane with SIGKILL while webhooks arrive and deliveries are
// under way, restart it on the same port, and check nothing acknowledged is
// lost. Receiving and forwarding in one process: an attempt the destination
// took but whose ack had not reached JetStream is made again after the
// restart, with the same webhook-id.
func TestCrashDataPlaneKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: waits out the consumers' ack wait")
	}
	t.Parallel()
	w := startCrashWorld(t)
	dp := newChildDataPlane(t, w.grpcAddr, w.natsURL)
	w.stopUnderLoad(dp, "kill", dp.kill)
	w.check(w.load, false)
}

// Stop the data plane with SIGTERM under load, as an orchestrator does: it
// stops accepting, answers the requests under way, finishes its delivery
// attempts and publishes what it recorded. Nothing acknowledged is lost
// and nothing is delivered twice.
func TestShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	w := startCrashWorld(t)
	dp := newChildDataPlane(t, w.grpcAddr, w.natsURL)
	w.stopUnderLoad(dp, "term", dp.terminate)
	w.check(w.load, true)
}

// Kill a receiving data plane with SIGKILL under load while forwarding runs
// in a data plane of its own (--roles): nothing acknowledged is lost,
// nothing is stored twice, and the destination gets every event exactly
// once.
func TestCrashReceiverKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: waits out the consumers' ack wait")
	}
	t.Parallel()
	w := startCrashWorld(t)
	fwd := newChildRoles(t, w.grpcAddr, w.natsURL, "forward", "dp-forward")
	fwd.start()
	rcv := newChildRoles(t, w.grpcAddr, w.natsURL, "receive", "dp-receive")
	w.stopUnderLoad(rcv, "rkill", rcv.kill)
	w.check(w.load, true)
}

// stopUnderLoad starts dp, sends it load, stops it (kill or terminate) once
// deliveries are under way, restarts it, and stops the load once the
// restarted data plane has acknowledged some.
func (w *crashWorld) stopUnderLoad(dp *childDataPlane, prefix string, stop func()) {
	t := w.t
	dp.start()
	load := startLoad(t, dp.URL(), w.source, prefix, 4)
	w.load = load
	t.Cleanup(load.stop)

	started := time.Now()
	pollFor(t, 30*time.Second, "deliveries under way", func() bool {
		return time.Since(started) > time.Second && w.dest.distinct() >= 100
	})
	stop()
	killed := time.Now()
	events, deliveries := w.held()
	t.Logf("stopped holding %d events (router) and %d deliveries (deliverer) not yet acknowledged", events, deliveries)
	// Load keeps coming at the dead data plane: connection refused, not
	// acknowledged.
	pollFor(t, 10*time.Second, "requests failing during the outage", func() bool {
		return time.Since(killed) > 500*time.Millisecond && load.failedSince(killed) >= 20
	})
	dp.start()
	restarted := time.Now()
	pollFor(t, 30*time.Second, "load acknowledged after the restart", func() bool {
		return time.Since(restarted) > time.Second && load.ackedSince(restarted) >= 100
	})
	load.stop()
}

// Restart the NATS server (same store directory, same port) while webhooks
// arrive: the data plane answers 503 while it is down, and nothing it
// answered 200 is lost.
func TestCrashNATSRestartedUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	w := startCrashWorld(t)
	dp := newChildDataPlane(t, w.grpcAddr, w.natsURL)
	dp.start()
	load := startLoad(t, dp.URL(), w.source, "nats", 4)
	defer load.stop()

	started := time.Now()
	pollFor(t, 30*time.Second, "deliveries under way", func() bool {
		return time.Since(started) > time.Second && w.dest.distinct() >= 100
	})
	w.stopNATS()
	down := time.Now()
	pollFor(t, 20*time.Second, "503 answers while NATS is down", func() bool { return load.statusSince(down, 503) >= 4 })
	up := time.Now()
	w.startNATS()
	pollFor(t, 30*time.Second, "load acknowledged after the restart", func() bool {
		return time.Since(up) > time.Second && load.ackedSince(up) >= 100
	})
	load.stop()

	// A request made entirely while the server was down cannot have been
	// stored: it must not be answered 200.
	var during, ok200 int
	for _, r := range load.records() {
		if r.start.After(down) && r.end.Before(up) {
			during++
			if r.status == http.StatusOK {
				ok200++
			}
		}
	}
	if ok200 > 0 {
		t.Errorf("%d of %d requests made while NATS was down were answered 200", ok200, during)
	}
	if n := load.statusSince(down, 503); n == 0 {
		t.Error("no 503 while NATS was down")
	}
	w.check(load, true)
}

// crashWorld is a control plane and an embedded NATS server in the test
// process, with a Stripe source and a destination; the data plane is a
// child process (childDataPlane).
type crashWorld struct {
	t        *testing.T
	grpcAddr string
	natsDir  string
	natsHost string
	natsPort int
	natsURL  string
	nats     *backbone.Conn // the test's own connection, for checks
	source   string
	destID   string
	dest     *recorder
	load     *loadGen

	mu   sync.Mutex
	embd *backbone.Embedded
}

const crashDestKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func startCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	ctx := context.Background()
	w := &crashWorld{t: t, natsDir: t.TempDir(), natsHost: "127.0.0.1"}

	db := storetest.Open(t, "sqlite")
	k, _ := secrets.GenerateKey()
	kr, _ := secrets.NewKeyring(k)
	srv, err := server.Start(ctx, server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", PublicIngestURL: "http://ingest.test",
		DataPlaneTokens: []string{dpToken}, AllowHTTPHosts: []string{"127.0.0.1"}, Log: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Stop(c)
	})
	w.grpcAddr = srv.GRPCAddr
	_, key, err := auth.Bootstrap(ctx, db.Client, "tenant", "k")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	// NATS on a random port, which it keeps across restarts.
	embd, err := backbone.StartEmbedded(w.natsDir, w.natsHost, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.embd = embd
	w.natsURL = embd.URL()
	u, err := url.Parse(w.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	if w.natsPort, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.stopNATS)
	nc, err := backbone.Connect(ctx, backbone.Options{URL: w.natsURL, Name: "e2e checks", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w.nats = nc
	if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}

	// Configuration exists before the data plane first starts, so its
	// first snapshot already routes to the destination.
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	src, err := plugsv1.NewSourceServiceClient(conn).CreateSource(actx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", MetricId: "invoices", Secret: stripeSecret,
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.source = src.GetId()
	w.dest = newRecorder(t, crashDestKey)
	d, err := plugsv1.NewDestinationServiceClient(conn).CreateDestination(actx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "billing", Url: w.dest.srv.URL, SharedKey: crashDestKey,
		Timeout: durationpb.New(2 * time.Second),
		RetryPolicy: &plugsv1.RetryPolicy{
			InitialBackoff: durationpb.New(50 * time.Millisecond), MaxBackoff: durationpb.New(500 * time.Millisecond),
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.destID = d.GetId()
	return w
}

// stopNATS shuts the embedded server down, gracefully (its files are
// complete; a kill of the NATS process is not what this tests).
func (w *crashWorld) stopNATS() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.embd != nil {
		w.embd.Shutdown()
		w.embd = nil
	}
}

// startNATS starts a new server on the same store directory and port.
func (w *crashWorld) startNATS() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		embd, err := backbone.StartEmbedded(w.natsDir, w.natsHost, w.natsPort, nil)
		if err == nil {
			w.embd = embd
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("NATS did not come back on port %d: %v", w.natsPort, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check waits until everything stored is delivered and settled, then
// checks the outcome and logs the duplicates; with once, a second delivery
// of any event fails the test.
func (w *crashWorld) check(load *loadGen, once bool) {
	t := w.t
	t.Helper()
	acked := load.ackedIDs()
	if len(acked) == 0 {
		t.Fatal("no webhook was acknowledged")
	}
	missing := func() []string {
		var out []string
		for _, id := range acked {
			if w.dest.count(id) == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	deadline := time.Now().Add(crashDeadline)
	for len(missing()) > 0 || !w.settled() {
		if time.Now().After(deadline) {
			m := missing()
			sort.Strings(m)
			t.Fatalf("after %s, %d of %d acknowledged events never reached the destination (settled %v): %v",
				crashDeadline, len(m), len(acked), w.settled(), m[:min(len(m), 20)])
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The events stream: one message per provider event id, every
	// acknowledged event among them.
	stored := map[string]string{} // provider event id -> Plugs event id
	for _, m := range w.readStream(backbone.EventsStream, "") {
		ev := &plugsv1.UsageEvent{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			t.Fatalf("stored event does not decode: %v", err)
		}
		if prev, ok := stored[ev.GetEventId()]; ok {
			t.Errorf("provider event %s stored twice: %s and %s", ev.GetEventId(), prev, ev.GetId())
		}
		stored[ev.GetEventId()] = ev.GetId()
	}
	for _, id := range acked {
		if _, ok := stored[id]; !ok {
			t.Errorf("acknowledged event %s is not in %s", id, backbone.EventsStream)
		}
	}
	// The deliveries stream: one delivery per event for the destination,
	// however often the dead router's events were routed again.
	queued := map[string]int{}
	for _, m := range w.readStream(backbone.DeliveriesStream, backbone.DeliverySubject(w.destID)) {
		queued[m.Headers().Get(forward.HeaderEventID)]++
	}
	for id, n := range queued {
		if n != 1 {
			t.Errorf("event %s queued for delivery %d times", id, n)
		}
	}
	if len(queued) != len(stored) {
		t.Errorf("%d events stored, %d queued for delivery", len(stored), len(queued))
	}
	if dead, err := forward.ListDead(context.Background(), w.nats.JS, w.destID, 10); err != nil || len(dead) > 0 {
		t.Errorf("dead letters: %d, %v", len(dead), err)
	}

	// The destination: every stored event (acknowledged or not) delivered;
	// nothing it got that was not stored; a redelivery carries the same
	// webhook-id, the stored event's id.
	got := w.dest.snapshot()
	dupEvents, dupDeliveries := 0, 0
	for pid, ids := range got {
		plugsID, ok := stored[pid]
		if !ok {
			t.Errorf("destination got event %s, which is not stored", pid)
			continue
		}
		for _, wid := range ids {
			if wid != plugsID {
				t.Errorf("event %s delivered with webhook-id %s, stored as %s (all deliveries: %v)", pid, wid, plugsID, ids)
			}
		}
		if len(ids) > 1 {
			if once {
				t.Errorf("event %s delivered %d times", pid, len(ids))
			}
			dupEvents++
			dupDeliveries += len(ids) - 1
		}
	}
	for pid := range stored {
		if _, ok := got[pid]; !ok {
			t.Errorf("stored event %s never delivered", pid)
		}
	}
	t.Logf("requests %d in %s (%s); acknowledged %d, stored %d, delivered %d distinct; duplicates at the destination: %d events delivered twice or more, %d extra deliveries",
		load.total(), load.duration().Round(time.Millisecond), load.statusSummary(), len(acked), len(stored), len(got), dupEvents, dupDeliveries)
}

// settled reports whether the router and the destination's deliverer have
// nothing pending and nothing waiting for an ack.
func (w *crashWorld) settled() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range []struct{ stream, name string }{
		{backbone.EventsStream, forward.RouterName},
		{backbone.DeliveriesStream, forward.ConsumerName(w.destID)},
	} {
		cons, err := w.nats.JS.Consumer(ctx, c.stream, c.name)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		if err != nil || info.NumPending != 0 || info.NumAckPending != 0 || info.NumRedelivered != 0 {
			return false
		}
	}
	return true
}

// held is how many events the router, and deliveries the deliverer, have
// been handed and not yet acknowledged.
func (w *crashWorld) held() (events, deliveries int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := func(stream, name string) int {
		cons, err := w.nats.JS.Consumer(ctx, stream, name)
		if err != nil {
			return -1
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return -1
		}
		return info.NumAckPending
	}
	return n(backbone.EventsStream, forward.RouterName), n(backbone.DeliveriesStream, forward.ConsumerName(w.destID))
}

// readStream reads every message of a stream (on subject, if not empty).
func (w *crashWorld) readStream(stream, subject string) []jetstream.Msg {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := w.nats.JS.Stream(ctx, stream)
	if err != nil {
		w.t.Fatal(err)
	}
	cfg := jetstream.OrderedConsumerConfig{}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []jetstream.Msg
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if err := batch.Error(); err != nil {
			w.t.Fatal(err)
		}
		if n == 0 {
			return out
		}
	}
}

// recorder is the customer's endpoint: it verifies each delivery with the
// consumer package and records the webhook-id of every delivery, by
// provider event id.
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]string
}

func newRecorder(t *testing.T, key string) *recorder {
	rec := &recorder{got: map[string][]string{}}
	v := &consumer.Verifier{Key: key}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		wid := r.Header.Get(consumer.HeaderWebhookID)
		if wid != ev.ID {
			t.Errorf("webhook-id %q, CloudEvent id %q", wid, ev.ID)
		}
		rec.mu.Lock()
		rec.got[ev.Usage.GetEventId()] = append(rec.got[ev.Usage.GetEventId()], wid)
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) count(eventID string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.got[eventID])
}

func (rec *recorder) distinct() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.got)
}

func (rec *recorder) snapshot() map[string][]string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make(map[string][]string, len(rec.got))
	for k, v := range rec.got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// loadGen sends distinct signed Stripe webhooks from several goroutines
// and records every answer.
type loadGen struct {
	t      *testing.T
	url    string
	client *http.Client
	scheme *plugsv1.SignatureScheme
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu   sync.Mutex
	reqs []request
}

// request is one webhook sent; status 0 means no answer.
type request struct {
	id         string
	start, end time.Time
	status     int
}

func startLoad(t *testing.T, base, sourceID, prefix string, workers int) *loadGen {
	tpl, err := templates.MustBuiltin().Get("stripe")
	if err != nil {
		t.Fatal(err)
	}
	l := &loadGen{
		t:      t,
		url:    base + "/v1/ingest/webhook/" + sourceID,
		scheme: tpl.GetSignatureScheme(),
		done:   make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: workers,
		}},
	}
	for n := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.done:
					return
				default:
				}
				r := l.send(fmt.Sprintf("evt_%s_%d_%d", prefix, n, i))
				l.mu.Lock()
				l.reqs = append(l.reqs, r)
				l.mu.Unlock()
				pause := 2 * time.Millisecond
				if r.status != http.StatusOK {
					pause = 20 * time.Millisecond // do not spin on a dead port
				}
				select {
				case <-l.done:
					return
				case <-time.After(pause):
				}
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

func (l *loadGen) send(id string) request {
	body := invoice(id)
	r := request{id: id, start: time.Now()}
	defer func() { r.end = time.Now() }()
	s, err := verify.Sign(l.scheme, stripeSecret, verify.Message{Body: []byte(body)}, time.Now())
	if err != nil {
		l.t.Errorf("sign: %v", err)
		return r
	}
	req, _ := http.NewRequest(http.MethodPost, l.url, strings.NewReader(body))
	req.Header = s.Header
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		r.end = time.Now()
		return r
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.status, r.end = resp.StatusCode, time.Now()
	return r
}

// stop stops sending and waits for the requests under way.
func (l *loadGen) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

func (l *loadGen) records() []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]request(nil), l.reqs...)
}

func (l *loadGen) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// duration is from the first request sent to the last answered.
func (l *loadGen) duration() time.Duration {
	rs := l.records()
	if len(rs) == 0 {
		return 0
	}
	first, last := rs[0].start, rs[0].end
	for _, r := range rs {
		if r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
	}
	return last.Sub(first)
}

// ackedIDs are the events answered 200.
func (l *loadGen) ackedIDs() []string {
	var out []string
	for _, r := range l.records() {
		if r.status == http.StatusOK {
			out = append(out, r.id)
		}
	}
	return out
}

// statusSince counts the answers with status to requests sent after t.
func (l *loadGen) statusSince(t time.Time, status int) int {
	n := 0
	for _, r := range l.records() {
		if r.start.After(t) && r.status == status {
			n++
		}
	}
	return n
}

func (l *loadGen) ackedSince(t time.Time) int { return l.statusSince(t, http.StatusOK) }

func (l *loadGen) failedSince(t time.Time) int {
	n := 0
	for _, r := range l.records() {
		if r.start.After(t) && r.status != http.StatusOK {
			n++
		}
	}
	return n
}

// statusSummary is "200: n, 503: m, no answer: k".
func (l *loadGen) statusSummary() string {
	counts := map[int]int{}
	for _, r := range l.records() {
		counts[r.status]++
	}
	codes := make([]int, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, counts[c]))
	}
	return strings.Join(parts, ", ")
}

// pollFor waits for cond, failing the test after limit.
func pollFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
