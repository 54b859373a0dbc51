package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const goCardlessSecret = "gocardless-e2e-endpoint-secret"

// goCardlessBatch is a GoCardless webhook carrying events EV<from>… to
// EV<to-1>.
func goCardlessBatch(from, to int) string {
	var items []string
	for i := from; i < to; i++ {
		items = append(items, fmt.Sprintf(`{"id":"EV%d","created_at":"2026-03-02T10:29:58.000Z","action":"confirmed","resource_type":"payments","links":{"customer":"CU%d","payment":"PM%d"}}`, i, i%3, i))
	}
	return `{"events":[` + strings.Join(items, ",") + `],"meta":{"webhook_id":"WB` + fmt.Sprint(from) + `"}}`
}

// sendGoCardless posts a GoCardless webhook signed as GoCardless signs.
func (w *world) sendGoCardless(sourceID, body string) int {
	w.t.Helper()
	return w.sendAs("gocardless", sourceID, goCardlessSecret, body)
}

// A GoCardless webhook of 20 events, through the real data plane: the
// billing destination receives each event once, and the provider's retry
// of the webhook delivers nothing more. A webhook that arrives while the
// events stream is full to a limit is answered 503 with part of its events
// stored; its retry, once there is room, stores the rest, and still each
// event reaches billing exactly once.
func TestBatchDeliversEachEventOnce(t *testing.T) {
	w := start(t)
	src, err := w.sources.CreateSource(w.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "gocardless", TemplateId: "gocardless", MetricId: "payments", Secret: goCardlessSecret,
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "source on the data plane", func() bool { return w.store.Load().Source(src.GetId()) != nil })
	key := "a-plain-shared-key-0123456789"
	b := newBilling(t, key)
	dest := w.destination(b.srv.URL, key, nil)

	first := goCardlessBatch(0, 20)
	if code := w.sendGoCardless(src.GetId(), first); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	waitFor(t, "20 events delivered", func() bool { return b.distinct() == 20 && w.settled(dest) })
	if code := w.sendGoCardless(src.GetId(), first); code != http.StatusOK {
		t.Fatalf("retry answered %d", code)
	}

	// Room for five more events: the next webhook of ten is answered 503.
	ctx := context.Background()
	limit := func(n int64) {
		s, err := w.nats.JS.Stream(ctx, backbone.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		if _, err := w.nats.JS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	limit(25)
	second := goCardlessBatch(20, 30)
	if code := w.sendGoCardless(src.GetId(), second); code != http.StatusServiceUnavailable {
		t.Fatalf("over the stream's limit: answered %d", code)
	}
	limit(-1)
	if code := w.sendGoCardless(src.GetId(), second); code != http.StatusOK {
		t.Fatalf("retry answered %d", code)
	}
	waitFor(t, "30 events delivered", func() bool { return b.distinct() == 30 && w.settled(dest) })
	for i := range 30 {
		if n := b.count(fmt.Sprintf("EV%d", i)); n != 1 {
			t.Errorf("EV%d delivered %d times", i, n)
		}
	}
}
