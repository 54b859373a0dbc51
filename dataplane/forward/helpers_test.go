package forward_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// dests is a static Destinations whose entries tests replace (never
// modify: the forwarder holds on to what it was given).
type dests struct {
	mu      sync.Mutex
	ds      []*plugsv1.DestinationConfig
	deleted []string
}

func (s *dests) ForEvent(tenantID, sourceID string) []*plugsv1.DestinationConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*plugsv1.DestinationConfig
	for _, d := range s.ds {
		if forward.Routes(d, tenantID, sourceID) {
			out = append(out, d)
		}
	}
	return out
}

func (s *dests) All() []*plugsv1.DestinationConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds)
}

func (s *dests) add(d *plugsv1.DestinationConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds = append(s.ds, d)
}

func (s *dests) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deleted)
}

// remove deletes the destination, as an explicit deletion does.
func (s *dests) remove(id string) {
	s.drop(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = append(s.deleted, id)
}

// drop leaves the destination out without deleting it, as a configuration
// that withholds it, or a full snapshot without it, does.
func (s *dests) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds = slices.DeleteFunc(s.ds, func(d *plugsv1.DestinationConfig) bool { return d.GetId() == id })
}

// update replaces the destination with a changed copy.
func (s *dests) update(id string, change func(*plugsv1.DestinationConfig)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.ds {
		if d.GetId() == id {
			c := proto.Clone(d).(*plugsv1.DestinationConfig)
			change(c)
			s.ds[i] = c
		}
	}
}

// env is an embedded JetStream with the Plugs streams, an event store and
// a destination list.
type env struct {
	t     *testing.T
	conn  *backbone.Conn
	store *backbone.EventStore
	dests *dests
	guard *egress.Guard

	mu       sync.Mutex
	attempts []forward.Attempt
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	srv, err := backbone.StartEmbedded(t.TempDir(), "127.0.0.1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: srv.URL(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := backbone.EnsureStreams(context.Background(), conn.JS, backbone.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	guard, err := egress.NewGuard([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, conn: conn, store: &backbone.EventStore{JS: conn.JS}, dests: &dests{}, guard: guard}
}

// start runs a forwarder until the test ends (or it is stopped).
func (e *env) start(opts forward.Options) *forward.Forwarder {
	e.t.Helper()
	if opts.Guard == nil {
		opts.Guard = e.guard
	}
	opts.ReconcileEvery = 50 * time.Millisecond
	also := opts.OnAttempt
	opts.OnAttempt = func(a forward.Attempt) {
		e.mu.Lock()
		e.attempts = append(e.attempts, a)
		e.mu.Unlock()
		if also != nil {
			also(a)
		}
	}
	f := forward.New(e.conn.JS, e.dests, opts)
	errc := make(chan error, 1)
	go func() { errc <- f.Run(context.Background()) }()
	e.t.Cleanup(func() {
		f.Stop()
		if err := <-errc; err != nil {
			e.t.Error(err)
		}
	})
	return f
}

func (e *env) attemptsFor(destID string) []forward.Attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []forward.Attempt
	for _, a := range e.attempts {
		if a.DestinationID == destID {
			out = append(out, a)
		}
	}
	return out
}

// put stores events of the tenant's source with ids prefix-0 … prefix-(n-1).
func (e *env) put(tenant, source, prefix string, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ids[i] = "u-" + id
		ev := &plugsv1.UsageEvent{
			Id: "u-" + id, TenantId: tenant, SourceId: source, EventId: id, EventType: "invoice.paid",
			CustomerId: "cus_" + id, Quantity: "1", EventTime: timestamppb.Now(), ReceiveTime: timestamppb.Now(),
		}
		if dup, err := e.store.Enqueue(context.Background(), ev); err != nil || dup {
			e.t.Fatalf("enqueue %s: dup=%v err=%v", id, dup, err)
		}
	}
	return ids
}

// settled waits until every event is routed and every delivery of the
// destinations is settled (acknowledged or dead-lettered, none waiting for
// a retry), so counting what the receivers got is final.
func (e *env) settled(destIDs ...string) {
	e.t.Helper()
	ctx := context.Background()
	eventually(e.t, 20*time.Second, func() bool {
		if !drained(ctx, e, backbone.EventsStream, forward.RouterName) {
			return false
		}
		for _, id := range destIDs {
			if !drained(ctx, e, backbone.DeliveriesStream, forward.ConsumerName(id)) {
				return false
			}
		}
		return true
	}, "deliveries did not settle")
	// An attempt is reported just after its delivery settles, on the
	// goroutine that settled it: wait until no report is still coming,
	// that is until two looks 10 ms apart see the same count.
	prev := -1
	eventually(e.t, 5*time.Second, func() bool {
		e.mu.Lock()
		n := len(e.attempts)
		e.mu.Unlock()
		stable := n == prev
		prev = n
		return stable
	}, "attempt reports did not settle")
}

func drained(ctx context.Context, e *env, stream, consumer string) bool {
	c, err := e.conn.JS.Consumer(ctx, stream, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is a destination: it checks every request's signature with the
// key independently of the forwarder's code, and answers as told.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	key []byte // the HMAC key, decoded
	hub string // the hub-style header; empty for Standard Webhooks
	// answer returns the status for request n (from 1); nil answers 200.
	answer func(n int, w http.ResponseWriter, r *http.Request) int

	requests   atomic.Int64
	inFlight   atomic.Int64
	maxFlight  atomic.Int64
	mu         sync.Mutex
	delivered  map[string]int // event id → 2xx answers
	times      []time.Time
	badSigns   []string
	badBodies  []string
	lastEvents map[string]*plugsv1.UsageEvent
}

func newReceiver(t *testing.T, key []byte, hub string) *receiver {
	r := &receiver{t: t, key: key, hub: hub, delivered: map[string]int{}, lastEvents: map[string]*plugsv1.UsageEvent{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newDownReceiver is a receiver that answers 503 while down is set, as it
// is at first, and as newReceiver's does after.
func newDownReceiver(t *testing.T, key []byte) (*receiver, *atomic.Bool) {
	r := newReceiver(t, key, "")
	down := &atomic.Bool{}
	down.Store(true)
	r.answer = func(int, http.ResponseWriter, *http.Request) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	return r, down
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := int(r.requests.Add(1))
	cur := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.maxFlight.Load()
		if cur <= m || r.maxFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.times = append(r.times, time.Now())
	if err := r.verify(req, body); err != nil {
		r.badSigns = append(r.badSigns, err.Error())
	}
	id, ev, err := decode(req, body)
	if err != nil {
		r.badBodies = append(r.badBodies, err.Error())
	}
	r.mu.Unlock()

	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(n, w, req)
	}
	if status >= 200 && status < 300 {
		r.mu.Lock()
		r.delivered[id]++
		r.lastEvents[id] = ev
		r.mu.Unlock()
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

func (r *receiver) verify(req *http.Request, body []byte) error {
	if r.hub != "" {
		m := hmac.New(sha256.New, r.key)
		m.Write(body)
		if !hmac.Equal([]byte(req.Header.Get(r.hub)), []byte("sha256="+hex.EncodeToString(m.Sum(nil)))) {
			return fmt.Errorf("hub signature %q", req.Header.Get(r.hub))
		}
		return nil
	}
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) {
		return fmt.Errorf("signature %q", req.Header.Get("webhook-signature"))
	}
	var sec int64
	if _, err := fmt.Sscan(ts, &sec); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		return fmt.Errorf("timestamp %q", ts)
	}
	return nil
}

// decode reads a delivery: a structured CloudEvent whose id is also the
// webhook-id, and whose data is the usage event.
func decode(req *http.Request, body []byte) (string, *plugsv1.UsageEvent, error) {
	if ct := req.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		return "", nil, fmt.Errorf("content type %q", ct)
	}
	var ce struct {
		SpecVersion string          `json:"specversion"`
		ID          string          `json:"id"`
		Source      string          `json:"source"`
		Type        string          `json:"type"`
		Subject     string          `json:"subject"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil {
		return "", nil, err
	}
	ev := &plugsv1.UsageEvent{}
	if err := protojson.Unmarshal(ce.Data, ev); err != nil {
		return ce.ID, nil, err
	}
	switch {
	case ce.SpecVersion != "1.0", ce.Type != "dev.plugs.usage":
		return ce.ID, ev, fmt.Errorf("envelope %s", body)
	case ce.ID != ev.GetId():
		return ce.ID, ev, fmt.Errorf("id %q, event %q", ce.ID, ev.GetId())
	case ce.Source != "/plugs/sources/"+ev.GetSourceId(), ce.Subject != ev.GetCustomerId():
		return ce.ID, ev, fmt.Errorf("source/subject %s", body)
	case req.Header.Get("webhook-id") != "" && req.Header.Get("webhook-id") != ce.ID:
		return ce.ID, ev, fmt.Errorf("webhook-id %q, id %q", req.Header.Get("webhook-id"), ce.ID)
	}
	return ce.ID, ev, nil
}

// check fails the test if any request was badly signed or formed.
func (r *receiver) check() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.badSigns) > 0 || len(r.badBodies) > 0 {
		r.t.Fatalf("bad signatures %v, bad bodies %v", r.badSigns, r.badBodies)
	}
}

// got returns how many times each event was delivered (2xx).
func (r *receiver) got() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.delivered))
	for k, v := range r.delivered {
		out[k] = v
	}
	return out
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.delivered)
}

// exactlyOnce fails unless each of ids was delivered once and nothing else
// was.
func (r *receiver) exactlyOnce(ids []string) {
	r.t.Helper()
	r.check()
	got := r.got()
	for _, id := range ids {
		if got[id] != 1 {
			r.t.Errorf("event %s delivered %d times", id, got[id])
		}
	}
	if len(got) != len(ids) {
		r.t.Errorf("%d events delivered, want %d: %v", len(got), len(ids), keys(got))
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// destination returns an active Standard Webhooks destination of the
// tenant delivering to r, with short backoffs.
func destination(id, tenant string, r *receiver, key string) *plugsv1.DestinationConfig {
	return &plugsv1.DestinationConfig{
		Id: id, TenantId: tenant, Url: r.srv.URL + "/hook", SharedKey: []byte(key),
		SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS,
		Status:         plugsv1.Destination_STATUS_ACTIVE,
		RetryPolicy: &plugsv1.RetryPolicy{
			InitialBackoff: durationpb.New(10 * time.Millisecond),
			MaxBackoff:     durationpb.New(50 * time.Millisecond),
		},
		Timeout: durationpb.New(5 * time.Second),
	}
}

// whsec returns a Standard Webhooks key and its decoded bytes.
func whsec(seed string) (string, []byte) {
	raw := []byte(strings.Repeat(seed, 24/len(seed)+1))[:24]
	return "whsec_" + base64.StdEncoding.EncodeToString(raw), raw
}

// waitNotPulled waits until no pull request is waiting on the destination's
// consumer, and still none a moment later (a consumer between two pulls
// would have issued the next one by then): its deliverer has stopped.
func (e *env) waitNotPulled(t *testing.T, destID string) {
	t.Helper()
	notPulled := func() bool {
		c, err := e.conn.JS.Consumer(context.Background(), "PLUGS_DELIVERIES", forward.ConsumerName(destID))
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumWaiting == 0
	}
	eventually(t, 5*time.Second, func() bool {
		if !notPulled() {
			return false
		}
		time.Sleep(50 * time.Millisecond)
		return notPulled()
	}, "the paused destination is still being pulled from")
}
