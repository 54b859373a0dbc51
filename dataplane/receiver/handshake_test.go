package receiver_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// capturer stands in for the control plane: it stores the first secret of
// a source and refuses any other, as CaptureHandshakeSecret does.
type capturer struct {
	mu      sync.Mutex
	held    map[string]string
	calls   int
	failing bool
}

func (c *capturer) CaptureSecret(_ context.Context, sourceID, secret string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	switch {
	case c.failing:
		return errors.New("control plane unreachable")
	case c.held[sourceID] != "" && c.held[sourceID] != secret:
		return fmt.Errorf("%w: the source holds another secret", pipeline.ErrSecretRefused)
	}
	c.held[sourceID] = secret
	return nil
}

// with changes the stand-in between requests.
func (c *capturer) with(f func(c *capturer)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func (c *capturer) stored(id string) (secret string, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[id], c.calls
}

const (
	asanaID   = "0192d1a0-0000-7000-8000-000000000011"
	asanaHeld = "0192d1a0-0000-7000-8000-000000000012"
	dropboxID = "0192d1a0-0000-7000-8000-000000000013"
	graphID   = "0192d1a0-0000-7000-8000-000000000014"
)

func request(t *testing.T, method, url string, h http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Asana's handshake: the secret is stored through the control plane before
// the answer echoes it; a forged handshake for a source that holds a
// secret is refused, and so is any handshake the control plane cannot
// store.
func TestAsanaHandshakeStoresTheSecret(t *testing.T) {
	const hookSecret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"
	cp := &capturer{held: map[string]string{}}
	f := serve(t, []*plugsv1.SourceConfig{
		sourceFrom(t, asanaID, "asana"), sourceFrom(t, asanaHeld, "asana", hookSecret),
	}, nil, pipeline.Options{Secrets: cp}, receiver.Options{})
	url := func(id string) string { return f.url + "/v1/ingest/webhook/" + id }
	hook := func(v string) http.Header { return http.Header{"X-Hook-Secret": {v}} }

	status, h, _ := request(t, http.MethodPost, url(asanaID), hook(hookSecret), "")
	if stored, _ := cp.stored(asanaID); status != 200 || h.Get("X-Hook-Secret") != hookSecret || stored != hookSecret {
		t.Fatalf("handshake: %d, X-Hook-Secret %q, stored %q", status, h.Get("X-Hook-Secret"), stored)
	}
	// The source already holds a secret: the same one is echoed without
	// asking the control plane, another is refused.
	_, before := cp.stored(asanaHeld)
	status, h, _ = request(t, http.MethodPost, url(asanaHeld), hook(hookSecret), "")
	if _, after := cp.stored(asanaHeld); status != 200 || h.Get("X-Hook-Secret") != hookSecret || after != before {
		t.Fatalf("repeated handshake: %d %q, %d calls", status, h.Get("X-Hook-Secret"), after-before)
	}
	if status, h, body := request(t, http.MethodPost, url(asanaHeld), hook("attacker-chosen-secret-0123456789"), ""); status != 401 || h.Get("X-Hook-Secret") != "" {
		t.Fatalf("forged handshake: %d %q %s", status, h.Get("X-Hook-Secret"), body)
	}
	// The control plane refuses (another data plane stored a secret first).
	cp.with(func(c *capturer) { c.held[asanaID] = "stored-elsewhere-first-0123456789" })
	if status, h, _ := request(t, http.MethodPost, url(asanaID), hook(hookSecret), ""); status != 401 || h.Get("X-Hook-Secret") != "" {
		t.Fatalf("refused by the control plane: %d %q", status, h.Get("X-Hook-Secret"))
	}
	// The control plane is away: retry later, nothing echoed.
	cp.with(func(c *capturer) { c.failing = true })
	if status, h, body := request(t, http.MethodPost, url(asanaID), hook(hookSecret), ""); status != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, "control_plane_unavailable") {
		t.Fatalf("control plane away: %d %q %s", status, h.Get("Retry-After"), body)
	}
	// Events of the source holding a secret verify under it.
	body := `{"events":[{"action":"changed","user":{"gid":"1"},"resource":{"gid":"2","resource_type":"task"}}]}`
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write([]byte(body))
	status, _, _ = request(t, http.MethodPost, url(asanaHeld), http.Header{"Content-Type": {"application/json"}, "X-Hook-Signature": {hex.EncodeToString(m.Sum(nil))}}, body)
	if status != 200 || f.sink.count() != 1 {
		t.Fatalf("event: %d, %d stored", status, f.sink.count())
	}
	// An event before any secret arrived fails closed.
	if status, _, _ := request(t, http.MethodPost, url(asanaID), http.Header{"X-Hook-Signature": {"00"}}, body); status != 401 {
		t.Fatalf("event without a secret: %d", status)
	}
}

// Without a way to reach the control plane a data plane refuses to take a
// secret from a handshake, rather than answering one it cannot keep.
func TestHandshakeSecretWithoutControlPlane(t *testing.T) {
	f := serve(t, []*plugsv1.SourceConfig{sourceFrom(t, asanaID, "asana")}, nil, pipeline.Options{}, receiver.Options{})
	status, h, body := request(t, http.MethodPost, f.url+"/v1/ingest/webhook/"+asanaID, http.Header{"X-Hook-Secret": {"abc0123456789abcdef"}}, "")
	if status != 401 || h.Get("X-Hook-Secret") != "" || !strings.Contains(body, "secret_missing") {
		t.Fatalf("%d %q %s", status, h.Get("X-Hook-Secret"), body)
	}
}

// Dropbox's GET challenge is echoed as text/plain with nosniff; Microsoft
// Graph's POST validationToken is echoed before anything is verified.
func TestEchoHandshakes(t *testing.T) {
	f := serve(t, []*plugsv1.SourceConfig{
		sourceFrom(t, dropboxID, "dropbox", "dropbox-app-secret"), sourceFrom(t, graphID, "microsoftgraph", "graph-client-state-0123"),
	}, nil, pipeline.Options{}, receiver.Options{})
	status, h, body := request(t, http.MethodGet, f.url+"/v1/ingest/webhook/"+dropboxID+"?challenge=hello%20there", nil, "")
	if status != 200 || body != "hello there" || h.Get("Content-Type") != "text/plain" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("dropbox: %d %q %v", status, body, h)
	}
	status, h, body = request(t, http.MethodPost, f.url+"/v1/ingest/webhook/"+graphID+"?validationToken=Validation%3A+Testing+client+application",
		http.Header{"Content-Type": {"text/plain"}}, "")
	if status != 200 || body != "Validation: Testing client application" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("graph: %d %q %v", status, body, h)
	}
	// A Graph notification whose clientState is wrong is no handshake.
	status, _, _ = request(t, http.MethodPost, f.url+"/v1/ingest/webhook/"+graphID, http.Header{"Content-Type": {"application/json"}},
		`{"value":[{"clientState":"guess","changeType":"created"}]}`)
	if status != 401 {
		t.Fatalf("graph notification with a wrong clientState: %d", status)
	}
	// HEAD and PUT are no handshake of these sources.
	if status, _, _ := request(t, http.MethodHead, f.url+"/v1/ingest/webhook/"+dropboxID, nil, ""); status != 405 {
		t.Fatalf("HEAD: %d", status)
	}
	if status, _, _ := request(t, http.MethodPut, f.url+"/v1/ingest/webhook/"+dropboxID, nil, ""); status != 405 {
		t.Fatalf("PUT: %d", status)
	}
}
