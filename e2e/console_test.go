package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The console in a real browser against a real control plane, data plane
// and JetStream: the journey of the person who runs billing, from signing
// in to replaying what a wrong secret rejected. PLUGS_UPDATE_SCREENSHOTS=1
// also copies the Sources and Requests screenshots to docs/ for the
// README.

const (
	pastedSecret = "whsec_console_pasted_0123456789" // the secret typed in the wizard, wrongly
	signingKey   = "whsec_console_provider_abcdefgh" // the one the provider signs with
	sharedKey    = "console-shared-key-0123456789abcdef"
)

var uuidPath = regexp.MustCompile(`^/(sources|destinations)/([0-9a-f-]{36})`)

func TestConsoleSourceJourney(t *testing.T) {
	w := start(t)
	p := newPage(t, w.rest)
	bill := newBilling(t, sharedKey)

	// Sign in from the keyboard; the key stays in this tab's session only.
	p.signIn(w.key)
	if got := eval[string](p, "session", `sessionStorage.getItem("plugs.console.apiKey")`); got != w.key {
		t.Fatalf("the key is not in the session storage: %q", got)
	}
	if n := eval[int](p, "local", `localStorage.length + document.cookie.length`); n != 0 {
		t.Fatal("the console stored something outside the session")
	}

	// No source yet: the empty state says what to do.
	p.goTo("/sources")
	p.waitText("main", "No sources yet")
	p.shot("01-sources-empty")
	p.click("main", "Create your first source")

	// The wizard: search the templates, pick Stripe.
	p.typeInto("#template-search", "strip")
	p.waitText("#template-list", "Stripe")
	p.wait("the search to narrow the list", `document.querySelectorAll('#template-list > li').length < 5`)
	p.click("#template-list", "Stripe\nstripe")

	// The live preview follows the sample payload and the draft.
	p.waitText(`[data-testid="preview-event"]`, "evt_1NG8Du2eZvKYlo2CUI79vXWy")
	p.fill("#wizard-sample", `{"id":"evt_no_type","created":1700000000}`)
	p.waitText(`[data-testid="preview-field-errors"]`, "event_type")
	p.wait("no event without its type", `!document.querySelector('[data-testid="preview-event"]')`)
	p.fill("#wizard-sample", `{"id":"evt_1","type":"charge.refunded","created":1700000000,"data":{"object":{"customer":"cus_42"}}}`)
	p.waitText(`[data-testid="preview-event"]`, "cus_42")
	p.typeInto("#source-event-types", "invoice.*\n")
	p.waitText(".chip", "invoice.*")
	p.waitText(`[data-testid="preview-filtered"]`, "filter drops this event")
	p.fill("#wizard-sample", `{"id":"evt_1","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_42"}}}`)
	p.waitText(`[data-testid="preview-event"]`, "invoice.paid")
	p.fill("#map-customer_id", "$.data.object.customer_id")
	p.waitText(`[data-testid="preview-field-errors"]`, "customer_id")
	p.fill("#map-customer_id", "$.data.object.customer")
	p.waitText(`[data-testid="preview-event"]`, "cus_42")
	p.fill("#source-name", "Stripe (console)")
	p.typeInto("#source-metric", "invoices")
	p.shot("02-source-wizard")

	// Without a secret the API refuses it, and says so next to the field.
	p.click("form", "Create source")
	p.waitText("#source-secret-error", "required")
	p.wait("the error next to its field", `document.querySelector('#source-secret').closest('.field').contains(document.querySelector('#source-secret-error'))
		&& document.querySelector('#source-secret').getAttribute('aria-describedby').includes('source-secret-error')
		&& document.activeElement === document.querySelector('#source-secret')`)
	p.shot("03-source-wizard-error")
	p.typeInto("#source-secret", pastedSecret)
	p.click("form", "Create source")
	p.do("the source page", chromedp.WaitVisible(chromedp.CSS("#webhook-url")))
	m := uuidPath.FindStringSubmatch(p.path())
	if m == nil || m[1] != "sources" {
		t.Fatalf("after saving: %s", p.path())
	}
	srcID := m[2]
	webhookURL := p.value("#webhook-url")
	if webhookURL != "http://ingest.test/v1/ingest/webhook/"+srcID {
		t.Fatalf("webhook URL %q", webhookURL)
	}
	p.waitText("main", "Stripe webhook docs")
	p.shot("04-source-created")
	waitFor(t, "source on the data plane", func() bool { return w.store.Load().Source(srcID) != nil })
	src, err := w.sources.GetSource(w.ctx, &plugsv1.GetSourceRequest{Id: srcID})
	if err != nil || src.GetMetricId() != "invoices" || src.GetEventFilter().GetEventTypes()[0] != "invoice.*" ||
		src.GetFieldMappings().GetCustomerId().GetJsonPath() != "$.data.object.customer" {
		t.Fatalf("saved source %v %v", src, err)
	}

	// The provider signs with its own secret: rejected, and seen live.
	u, _ := strings.CutPrefix(webhookURL, "http://ingest.test")
	p.goTo("/sources/" + srcID + "/requests?live=1")
	p.waitText("main", "No requests yet")
	body := `{"id":"evt_console_1","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_42"}}}`
	if code := w.sendSignedTo(u, signingKey, body); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret answered %d", code)
	}
	p.waitText("table.requests", "signature_invalid")
	p.shot("05-requests-rejected")
	p.choose("#f-cause", "signature_invalid")
	p.wait("the filter in the URL", `location.search.includes("cause=signature_invalid")`)
	p.click("table.requests", eval[string](p, "first row", `document.querySelector('table.requests tbody a').innerText`))
	p.waitText(`[data-testid="cause"]`, "did not match any of the source's secrets")
	p.waitText("main", "Stripe-Signature")
	p.waitText(`[data-testid="body-pretty"]`, `"evt_console_1"`)
	p.click("main", "Show raw bytes")
	p.waitText(`[data-testid="body-raw"]`, "00000000  7b 22 69 64")
	p.shot("06-request-detail")

	// Fix the secret: rotate the provider's in.
	p.goTo("/sources/" + srcID)
	p.typeInto("#rotate-secret", signingKey)
	p.click("form[aria-label='Rotate the signing secret']", "Rotate secret")
	// The pasted secret keeps working for the hour the form offers.
	p.wait("two secrets listed", `document.querySelectorAll('section[aria-labelledby="secrets-title"] tbody tr').length === 2`)
	waitFor(t, "the new secret on the data plane", func() bool {
		s := w.store.Load().Source(srcID)
		return s != nil && len(s.Config.GetSecrets()) == 2
	})
	if p.value("#rotate-secret") != "" {
		t.Error("the rotated secret stays in the form")
	}

	// A destination for the replayed event; a missing key is named.
	p.goTo("/destinations")
	p.waitText("main", "No destinations yet")
	p.shot("07-destinations-empty")
	p.click("main", "Add a destination")
	p.typeInto("#dest-name", "billing")
	p.fill("#dest-url", bill.srv.URL+"/usage")
	p.click("form", "Create destination")
	p.waitText("#dest-key-error", "")
	p.wait("the shared key's error", `document.querySelector('#dest-key-error') !== null`)
	p.shot("08-destination-error")
	p.typeInto("#dest-key", sharedKey)
	p.click("form", "Create destination")
	p.wait("the destination page", `/^\/destinations\/[0-9a-f-]{36}$/.test(location.pathname)`)
	destID := uuidPath.FindStringSubmatch(p.path())[2]
	waitFor(t, "destination on the data plane", func() bool { return w.store.Load().Destination(destID) != nil })

	// Replay every signature_invalid: accepted, delivered once.
	p.goTo("/sources/" + srcID + "/requests?cause=signature_invalid")
	p.waitText("table.requests", "signature_invalid")
	p.click("main", "Replay matching…")
	p.waitText("dialog[open]", "cause signature_invalid")
	p.click("dialog[open]", "Start replay")
	p.wait("the replay to succeed", `!!document.querySelector('[data-testid="replay-operation"][data-state="STATE_SUCCEEDED"]')`)
	p.waitText(`[data-testid="replay-operation"]`, "1 accepted")
	p.shot("09-bulk-replay")
	waitFor(t, "the replayed event delivered", func() bool { return bill.count("evt_console_1") == 1 })
	waitFor(t, "the destination settled", func() bool { return w.settled(destID) })
	if n := bill.count("evt_console_1"); n != 1 {
		t.Fatalf("the replayed event was delivered %d times", n)
	}

	// A test event from the button, and its answer.
	p.click("main", "Send test event")
	p.click("dialog[open]", "Send test event")
	p.waitText(`[data-testid="test-result"]`, "200")
	p.waitText(`[data-testid="test-result"]`, "accepted")
	p.shot("10-test-event")
	p.do("close", chromedp.Click(chromedp.CSS(`dialog[open] button.close`)))

	// The delivery log shows the delivery; pause, then delete.
	p.goTo("/destinations/" + destID)
	p.waitText("main table", "evt_console_1")
	p.waitText("main table", "delivered")
	p.click("main", "evt_console_1")
	p.waitText(".timeline", "Attempt 1")
	p.click("main", "Pause")
	p.waitText(".page-header", "paused")
	waitFor(t, "the pause on the data plane", func() bool {
		return w.store.Load().Destination(destID).GetStatus() == plugsv1.Destination_STATUS_PAUSED
	})
	p.shot("11-destination-paused")
	p.click(".page-header", "Delete")
	p.click("dialog[open]", "Delete destination")
	p.wait("back on the list", `location.pathname === "/destinations"`)
	p.waitText("main", "No destinations yet")
	if _, err := w.dests.GetDestination(w.ctx, &plugsv1.GetDestinationRequest{Id: destID}); err == nil {
		t.Fatal("the destination was not deleted")
	}

	// What the screens look like with data: a few more webhooks as a
	// provider sends them, one twice, and a second source.
	for i := 2; i <= 6; i++ {
		body := fmt.Sprintf(`{"id":"evt_console_%d","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_%d"}}}`, i, 40+i)
		if code := w.sendSigned(srcID, signingKey, body); code != http.StatusOK {
			t.Fatalf("webhook %d answered %d", i, code)
		}
	}
	w.sendSigned(srcID, signingKey, `{"id":"evt_console_2","type":"invoice.paid","created":1700000000,"data":{"object":{"customer":"cus_42"}}}`)
	if _, err := w.sources.CreateSource(w.ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "GitHub org", TemplateId: "github", MetricId: "pushes", Secret: "github-secret-0123456789",
	}}); err != nil {
		t.Fatal(err)
	}
	p.goTo("/")
	p.waitText("main", "signature_invalid")
	p.waitText("main", "Data planes")
	p.shot("12-overview")
	p.goTo("/sources")
	p.waitText("main table", "GitHub org")
	sources := p.shot("13-sources")
	p.goTo("/sources/" + srcID + "/requests")
	p.waitText("table.requests", "replay")
	p.waitText("table.requests", "duplicate")
	requests := p.shot("14-requests")
	if os.Getenv("PLUGS_UPDATE_SCREENSHOTS") == "1" {
		copyFile(t, sources, filepath.Join("..", "docs", "console-sources.png"))
		copyFile(t, requests, filepath.Join("..", "docs", "console-requests.png"))
	}

	// No plaintext secret reached the page, in its DOM or in any answer;
	// the key never went into a URL or a Referer.
	p.assertNeverShown(map[string]string{
		"the pasted secret": pastedSecret, "the provider's secret": signingKey, "the shared key": sharedKey, "the API key": w.key,
	})
	p.rec.mu.Lock()
	sawFingerprint := false
	for _, r := range p.rec.bodies {
		sawFingerprint = sawFingerprint || strings.Contains(string(r.body), `"fingerprint":"sha256:`)
	}
	for _, r := range p.rec.requests {
		if strings.Contains(r.URL.String(), w.key) || r.Header.Get("Referer") != "" {
			t.Errorf("request %s carries the key in its URL or a Referer %q", r.URL, r.Header.Get("Referer"))
		}
	}
	p.rec.mu.Unlock()
	if !sawFingerprint {
		t.Error("the scan saw no API answer with a secret's fingerprint: it scanned nothing")
	}

	// Signing out forgets the key.
	p.click(".topbar", "Sign out")
	p.do("signed out", chromedp.WaitVisible(chromedp.CSS("#api-key")))
	if got := eval[string](p, "session", `sessionStorage.getItem("plugs.console.apiKey") ?? ""`); got != "" {
		t.Fatal("the key outlived the sign-out")
	}
}

// TestConsolePhoneAndKeys: the console at a phone's width, and API keys:
// created and shown once, then revoked.
func TestConsolePhoneAndKeys(t *testing.T) {
	w := start(t)
	p := newPage(t, w.rest)
	p.phone()
	// A wrong key is refused at sign-in, next to the field.
	p.goTo("/")
	p.typeInto("#api-key", "plg_not_a_key\n")
	p.waitText("#api-key-error", "refused")
	p.shot("phone-00-sign-in-refused")
	p.signIn(w.key)
	p.waitText("main", "No sources yet")
	p.shot("phone-01-overview")
	p.goTo("/sources/new?template=stripe")
	p.waitText(`[data-testid="preview-event"]`, "evt_")
	p.shot("phone-02-source-wizard")

	p.goTo("/keys")
	p.waitText("main table", "this console")
	p.click("main", "New key")
	p.typeInto("#new-key-name", "ci")
	p.click("dialog[open]", "Create key")
	p.do("token", chromedp.WaitVisible(chromedp.CSS("#new-key-token")))
	token := p.value("#new-key-token")
	if !strings.HasPrefix(token, "plg_") || restStatus(t, w.rest, token) != http.StatusOK {
		t.Fatalf("new token %q does not work", token)
	}
	p.shot("phone-03-key-created")
	p.click("dialog[open]", "Done")
	p.wait("the token gone from the page", `!document.querySelector('#new-key-token')`)
	p.waitText("main table", "ci")
	p.do("revoke ci", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke ci"]`)))
	p.waitText("dialog[open]", "cannot be undone")
	p.click("dialog[open]", "Revoke key")
	p.wait("one key left", `document.querySelectorAll('main table tbody tr').length === 1`)
	if code := restStatus(t, w.rest, token); code != http.StatusUnauthorized {
		t.Fatalf("the revoked key answered %d", code)
	}
	p.shot("phone-04-keys")
	// Shown once: the page and the tab's storage no longer hold it.
	if eval[bool](p, "token", `(document.documentElement.outerHTML + JSON.stringify(Object.assign({}, sessionStorage, localStorage))).includes(`+jsString(token)+`)`) {
		t.Fatal("the new key is still in the page after the dialog closed")
	}
}

// sendSignedTo posts a Stripe event signed with secret to a path of the
// data plane's ingest listener.
func (w *world) sendSignedTo(path, secret, body string) int {
	w.t.Helper()
	id, ok := strings.CutPrefix(path, "/v1/ingest/webhook/")
	if !ok {
		w.t.Fatalf("not an ingest path: %s", path)
	}
	return w.sendSigned(id, secret, body)
}

func restStatus(t *testing.T, base, key string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/sources", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", to)
}
