package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/datadir"
	"github.com/plugshq/plugs/templates"
)

// billingEndpoint is a destination that answers 503 while down, and
// otherwise verifies each delivery and counts it by provider event id.
type billingEndpoint struct {
	srv   *httptest.Server
	down  atomic.Bool
	tries atomic.Int64
	mu    sync.Mutex
	seen  map[string]int
}

func newBillingEndpoint(t *testing.T, key string) *billingEndpoint {
	b := &billingEndpoint{seen: map[string]int{}}
	b.down.Store(true)
	v := &consumer.Verifier{Key: key}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.tries.Add(1)
		if b.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ev, err := v.VerifyRequest(r)
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		b.mu.Lock()
		b.seen[ev.Usage.GetEventId()]++
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *billingEndpoint) delivered() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.seen)
}

// sendStripe posts a Stripe event signed with secret to url and returns
// the status and body.
func sendStripe(t *testing.T, url, secret, eventID string) (int, string) {
	t.Helper()
	tpl, _ := templates.MustBuiltin().Get("stripe")
	body := `{"id":"` + eventID + `","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_1"}}}`
	s, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: []byte(body)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header = s.Header
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func poll(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// plugs keys rotate --generate against the data directory of a running
// plugs dev, as the README suggests trying: the rotation waits for dev to
// load the new key before sealing under it, so dev never takes the
// re-sealed secrets for missing. Ingest keeps verifying, the deliveries
// queued for a destination that is down stay queued, and all of them
// arrive once it is back.
func TestKeysRotateWhileDevRuns(t *testing.T) {
	d := startDev(t)
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	dests := plugsv1.NewDestinationServiceClient(conn)

	const secret, sharedKey = "whsec_rotate_0123456789abcdefghij", "rotate-shared-key-0123456789"
	billing := newBillingEndpoint(t, sharedKey)
	src, err := d.sources.CreateSource(d.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "stripe", TemplateId: "stripe", MetricId: "invoices", Secret: secret,
	}})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := dests.CreateDestination(d.ctx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "billing", Url: billing.srv.URL, SharedKey: sharedKey,
		RetryPolicy: &plugsv1.RetryPolicy{InitialBackoff: durationpb.New(50 * time.Millisecond), MaxBackoff: durationpb.New(300 * time.Millisecond)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The data plane has the source (and, a revision later, the
	// destination) once it answers 200.
	var sent []string
	send := func(id string) {
		t.Helper()
		status, body := sendStripe(t, src.GetWebhookUrl(), secret, id)
		if status != http.StatusOK {
			t.Fatalf("event %s: %d %s", id, status, body)
		}
		sent = append(sent, id)
	}
	poll(t, 20*time.Second, "the data plane to serve the source and the destination", func() bool {
		s, err := d.sources.GetSource(d.ctx, &plugsv1.GetSourceRequest{Id: src.GetId()})
		dd, derr := dests.GetDestination(d.ctx, &plugsv1.GetDestinationRequest{Id: dest.GetId()})
		return err == nil && derr == nil && s.GetDataPlanesCurrent() == 1 && dd.GetRevision() <= s.GetRevision()+1 &&
			currentOn(t, d, dd.GetRevision())
	})
	for i := range 5 {
		send("evt_before_" + string(rune('a'+i)))
	}
	poll(t, 20*time.Second, "deliveries to fail while the destination is down", func() bool { return billing.tries.Load() >= 5 })

	var out bytes.Buffer
	if err := runKeys(context.Background(), []string{"rotate", "--generate", "--data-dir", d.dataDir}, &out); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out.String())
	}
	for _, want := range []string{"added master key", "plugs dev (pid", "loaded master key", "re-encrypted 2 secrets"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("keys rotate said:\n%s\nwant %q", out.String(), want)
		}
	}

	// The control plane serves the re-sealed source and destination: no
	// configuration error, and the data plane runs their new revision.
	poll(t, 20*time.Second, "the data plane to run the re-sealed configuration", func() bool {
		s, err := d.sources.GetSource(d.ctx, &plugsv1.GetSourceRequest{Id: src.GetId()})
		dd, derr := dests.GetDestination(d.ctx, &plugsv1.GetDestinationRequest{Id: dest.GetId()})
		if err != nil || derr != nil {
			return false
		}
		if s.GetConfigurationError() != nil || dd.GetConfigurationError() != nil {
			t.Fatalf("configuration error after the rotation: %v %v", s.GetConfigurationError(), dd.GetConfigurationError())
		}
		return s.GetRevision() > src.GetRevision() && dd.GetRevision() > dest.GetRevision() && currentOn(t, d, max(s.GetRevision(), dd.GetRevision()))
	})
	for i := range 5 {
		send("evt_after_" + string(rune('a'+i)))
	}

	billing.down.Store(false)
	poll(t, 30*time.Second, "every event to be delivered", func() bool { return len(billing.delivered()) == len(sent) })
	for _, id := range sent {
		if n := billing.delivered()[id]; n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
}

// currentOn reports whether the dev data plane acknowledged revision rev
// or later.
func currentOn(t *testing.T, d *devRun, rev int64) bool {
	t.Helper()
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := plugsv1.NewDataPlaneServiceClient(conn).ListDataPlanes(d.ctx, &plugsv1.ListDataPlanesRequest{})
	if err != nil || len(resp.GetDataPlanes()) == 0 {
		return false
	}
	for _, dp := range resp.GetDataPlanes() {
		if !dp.GetConnected() || config.ParseVersion(dp.GetAckedVersion()) < rev {
			return false
		}
	}
	return true
}

// A rotation the server holding the data directory could not follow is
// refused before anything changes: its keys come from the environment.
func TestKeysRotateRefusesWhenTheServerCannotReload(t *testing.T) {
	t.Setenv(secrets.EnvMasterKey, "")
	dir := t.TempDir()
	l, err := datadir.Acquire(dir, datadir.Holder{Command: "plugs dev"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	var out bytes.Buffer
	err = runKeys(context.Background(), []string{"rotate", "--generate", "--data-dir", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "plugs dev (pid") || !strings.Contains(err.Error(), secrets.EnvMasterKey) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Fatalf("a key was added although the rotation was refused: %v", err)
	}
}

// A server that does not load the new key in time: nothing is sealed
// under it, and the message says what to do.
func TestKeysRotateRefusesWhenTheServerDoesNotLoadTheKey(t *testing.T) {
	t.Setenv(secrets.EnvMasterKey, "")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	old, err := secrets.AppendNewKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := datadir.Acquire(dir, datadir.Holder{Command: "plugs controlplane", KeyFile: keyFile, KeyIDs: []string{old}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	prev := holderWait
	holderWait = 300 * time.Millisecond
	t.Cleanup(func() { holderWait = prev })
	var out bytes.Buffer
	err = runKeys(context.Background(), []string{"rotate", "--generate", "--data-dir", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "did not load master key") || !strings.Contains(err.Error(), "nothing was re-encrypted") {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(out.String(), "re-encrypted") {
		t.Fatalf("secrets re-encrypted anyway:\n%s", out.String())
	}
	// Once the server says it holds the key, the rotation goes on.
	kr, err := secrets.Load(keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetKeyIDs(kr.IDs()); err != nil {
		t.Fatal(err)
	}
	if err := awaitKey(context.Background(), &cpFlags{dataDir: dir, keyFile: keyFile}, kr.PrimaryID()); err != nil {
		t.Fatal(err)
	}
}
