package sample_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
	"github.com/plugshq/plugs/templates/sample"
)

const sourceID = "0192d1a0-0000-7000-8000-000000000001"

// secretFor is a secret in the form the scheme decodes.
func secretFor(scheme *plugsv1.SignatureScheme) string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	switch scheme.GetSecretEncoding() {
	case plugsv1.SignatureScheme_SECRET_ENCODING_WHSEC_BASE64:
		return "whsec_" + base64.StdEncoding.EncodeToString(raw)
	case plugsv1.SignatureScheme_SECRET_ENCODING_BASE64:
		return base64.StdEncoding.EncodeToString(raw)
	}
	if scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH {
		return "plugs:" + hex.EncodeToString(raw[:12])
	}
	return hex.EncodeToString(raw)
}

// sink keeps the events a pipeline stores.
type sink struct {
	mu     sync.Mutex
	events []*plugsv1.UsageEvent
}

func (s *sink) Enqueue(_ context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.GetEventId() == ev.GetEventId() {
			return true, nil
		}
	}
	s.events = append(s.events, ev)
	return false, nil
}

// receiverFor serves a source of the template with secret, filter set.
func receiverFor(t *testing.T, tpl *plugsv1.Template, secret string, filter *plugsv1.EventFilter) (string, *sink) {
	t.Helper()
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{{
		Id: sourceID, TenantId: "t", TemplateId: tpl.GetId(), Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(), EventFilter: filter,
		Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte(secret)}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	events := &sink{}
	log := slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	receiver.New(pipeline.New(store, events, pipeline.Options{Log: log}), receiver.Options{Log: log}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/ingest/webhook/" + sourceID, events
}

func send(t *testing.T, w *sample.Webhook) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.URL, bytes.NewReader(w.Body))
	req.Header = w.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every template's sample, signed, is accepted by a real receiver for a
// source of the template, and sent again it is a new event, not a
// duplicate: each carries a fresh event id where the mappings read it.
func TestEveryTemplateSampleIsAccepted(t *testing.T) {
	catalog := templates.MustBuiltin()
	for _, id := range catalog.IDs() {
		t.Run(id, func(t *testing.T) {
			tpl, _ := catalog.Get(id)
			secret := secretFor(tpl.GetSignatureScheme())
			url, events := receiverFor(t, tpl, secret, nil)
			spec := sample.Spec{Template: tpl, Secret: secret, URL: url}
			first, err := sample.Sign(spec, time.Now())
			switch tpl.GetSignatureScheme().GetAlgorithm() {
			case plugsv1.SignatureScheme_ALGORITHM_ED25519, plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, plugsv1.SignatureScheme_ALGORITHM_JWT:
				if !errors.Is(err, verify.ErrCannotSign) {
					t.Fatalf("a scheme the provider signs with its private key signed without it: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			second, err := sample.Sign(spec, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []*sample.Webhook{first, second} {
				if code, body := send(t, w); code != http.StatusOK {
					t.Fatalf("answered %d %s", code, body)
				}
			}
			events.mu.Lock()
			defer events.mu.Unlock()
			ref := tpl.GetFieldMappings().GetEventId()
			if ref.GetJsonPath() == "" && ref.GetHeader() == "" {
				return
			}
			// A batch sample stores an event per item, each with an id
			// of its own; the webhook names its first item's.
			per := 1
			if tpl.GetFieldMappings().GetBatch() != nil {
				per = len(events.events) / 2
			}
			if len(events.events) != 2*per || per == 0 {
				t.Fatalf("%d events stored, want 2 webhooks of %d", len(events.events), per)
			}
			ids := map[string]bool{}
			for _, ev := range events.events {
				if ids[ev.GetEventId()] {
					t.Errorf("event id %q stored twice", ev.GetEventId())
				}
				ids[ev.GetEventId()] = true
			}
			// The events of one webhook are stored concurrently, in no
			// set order.
			for i, w := range []*sample.Webhook{first, second} {
				found := false
				for _, ev := range events.events[i*per : (i+1)*per] {
					found = found || (w.EventID != "" && ev.GetEventId() == w.EventID)
				}
				if !found {
					t.Errorf("webhook %d says event id %q, none of its events has it", i, w.EventID)
				}
			}
		})
	}
}

// A given body is sent as it is, with the event id it holds; headers given
// are kept.
func TestGivenBodyAndHeadersAreKept(t *testing.T) {
	tpl, _ := templates.MustBuiltin().Get("github")
	const body = `{"action":"closed","repository":{"owner":{"login":"plugs"}}}`
	w, err := sample.Sign(sample.Spec{
		Template: tpl, Secret: "a-github-secret-0123", URL: "http://h/v1/ingest/webhook/x", Body: []byte(body),
		Header: http.Header{"X-Github-Delivery": {"d-7"}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(w.Body) != body || w.EventID != "d-7" || w.Header.Get("X-GitHub-Event") != "test" {
		t.Fatalf("%s %q %v", w.Body, w.EventID, w.Header)
	}
	stripe, _ := templates.MustBuiltin().Get("stripe")
	w, err = sample.Sign(sample.Spec{Template: stripe, Secret: "whsec_x", Body: []byte(`{"id":"evt_mine","type":"invoice.paid"}`)}, time.Now())
	if err != nil || w.EventID != "evt_mine" {
		t.Fatalf("%v %v", w, err)
	}
}

// An event type read from a header is one the source's filter keeps.
func TestHeaderEventTypePassesTheFilter(t *testing.T) {
	tpl, _ := templates.MustBuiltin().Get("github")
	const secret = "a-github-secret-0123"
	filter := &plugsv1.EventFilter{EventTypes: []string{"issues.*", "push"}}
	url, events := receiverFor(t, tpl, secret, filter)
	w, err := sample.Sign(sample.Spec{Template: tpl, Secret: secret, URL: url, Filter: filter}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := send(t, w); code != http.StatusOK || len(events.events) != 1 || events.events[0].GetEventType() != "issues.test" {
		t.Fatalf("%d %s %v", code, body, events.events)
	}
}

func TestNoSample(t *testing.T) {
	tpl, _ := templates.MustBuiltin().Get("stripe")
	tpl = proto.Clone(tpl).(*plugsv1.Template)
	tpl.SamplePayload = ""
	if _, err := sample.Sign(sample.Spec{Template: tpl, Secret: "whsec_x"}, time.Now()); !errors.Is(err, sample.ErrNoSample) {
		t.Fatalf("%v", err)
	}
}
