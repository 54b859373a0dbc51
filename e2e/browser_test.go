package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive a headless Chromium: one browser per
// test binary, a tab per test. Without Chromium they skip, saying how to
// run them; .ci/run installs it and sets PLUGS_REQUIRE_BROWSER=1, which
// turns the skip into a failure.

const browserHint = "the console's browser tests need Chromium: install Debian's package " +
	"(apt-get install chromium) or point PLUGS_CHROMIUM at a Chrome or Chromium binary, then run make test"

// browser is the test binary's Chromium, started by the first test that
// needs it and stopped by TestMain.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	dir    string
	err    error
}

func chromiumPath() string {
	if p := os.Getenv("PLUGS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newTab opens a tab of the shared browser for t, closed when t ends.
func newTab(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	path := chromiumPath()
	if path == "" {
		if os.Getenv("PLUGS_REQUIRE_BROWSER") == "1" {
			t.Fatal("PLUGS_REQUIRE_BROWSER=1, but " + browserHint)
		}
		t.Skip(browserHint)
	}
	browser.once.Do(func() {
		browser.dir, browser.err = os.MkdirTemp("", "plugs-chromium-")
		if browser.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-first-run", true),
			chromedp.UserDataDir(browser.dir),
			chromedp.WindowSize(1280, 900),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		browser.ctx = bctx
		browser.cancel = func() { cancelBrowser(); cancelAlloc() }
		browser.err = chromedp.Do(bctx) // starts the browser
	})
	if browser.err != nil {
		t.Fatalf("start %s: %v", path, browser.err)
	}
	tab, cancel := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil { // opens the tab, bound to tab alone
		t.Fatal(err)
	}
	return tab
}

// stopBrowser ends the shared browser, if one started.
func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		_ = os.RemoveAll(browser.dir)
	}
}

// responseLog is a reverse proxy in front of the control plane's HTTP
// listener that keeps every response body the browser receives (decoded)
// and every request line it sends, for the secret scan.
type responseLog struct {
	srv *httptest.Server
	mu  sync.Mutex
	// bodies of responses, keyed by method and path.
	bodies   []recorded
	requests []*http.Request
}

type recorded struct {
	what string
	body []byte
}

func newResponseLog(t *testing.T, target string) *responseLog {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &responseLog{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		plain := b
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return err
			}
			if plain, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, recorded{what: r.Request.Method + " " + r.Request.URL.RequestURI(), body: plain})
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, r.Clone(context.Background()))
		rec.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// page drives one tab through the console.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	rec  *responseLog
	// doms are the pages' DOMs (with form values) as snapshots were taken.
	doms []string
	// shots is where screenshots go.
	shots string
	// width is the window's width in CSS pixels.
	width int
}

func newPage(t *testing.T, rest string) *page {
	t.Helper()
	tab := newTab(t)
	rec := newResponseLog(t, rest)
	dir := os.Getenv("PLUGS_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "bin", "test-artifacts")
	}
	dir = filepath.Join(dir, "console", t.Name())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &page{t: t, ctx: tab, base: rec.srv.URL, rec: rec, shots: dir, width: 1280}
}

const stepTimeout = 30 * time.Second

// do runs browser actions; a failure saves a screenshot and ends the test.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(what, err)
	}
}

func (p *page) fail(what string, err error) {
	p.t.Helper()
	name := "failure"
	if buf, serr := chromedp.Run(p.ctx, chromedp.FullScreenshot(100)); serr == nil {
		f := filepath.Join(p.shots, name+".png")
		_ = os.WriteFile(f, buf, 0o644)
		p.t.Logf("screenshot of the failure: %s", f)
	}
	text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	p.t.Fatalf("%s: %v\npage:\n%s", what, err, text)
}

// eval evaluates JavaScript and decodes its value.
func eval[T any](p *page, what, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.fail(what, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds.
func (p *page) wait(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.fail("waiting for "+what, err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitText waits until the element matched by css shows text.
func (p *page) waitText(css, text string) {
	p.t.Helper()
	p.wait(fmt.Sprintf("%q in %s", text, css), fmt.Sprintf(
		`[...document.querySelectorAll(%s)].some(e => e.innerText.includes(%s))`, jsString(css), jsString(text)))
}

// goTo loads a path of the console.
func (p *page) goTo(path string) {
	p.t.Helper()
	p.do("go to "+path, chromedp.Navigate(p.base+path))
}

// path is the current location's path and query.
func (p *page) path() string {
	p.t.Helper()
	return eval[string](p, "location", `location.pathname + location.search`)
}

// click clicks, as a person would, the visible button or link inside
// scope whose text is text, once it appears.
func (p *page) click(scope, text string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => {
		const scope = document.querySelector(%s);
		if (!scope) return null;
		const el = [...scope.querySelectorAll('button, a, [role=tab]')].find(e =>
			e.innerText.trim() === %s && e.offsetParent !== null && !e.disabled);
		if (!el) return null;
		el.setAttribute('data-test-click', '1');
		return true;
	})()`, jsString(scope), jsString(text))
	p.wait(fmt.Sprintf("%q in %s", text, scope), js)
	p.do("click "+text,
		chromedp.Click(chromedp.CSS(`[data-test-click="1"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-test-click="1"]')?.removeAttribute('data-test-click')`))
}

// typeInto types text into a field, key by key.
func (p *page) typeInto(css, text string) {
	p.t.Helper()
	p.do("type into "+css, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.SendKeys(chromedp.CSS(css), text))
}

// fill replaces a field's value at once (a long payload, a URL), as a
// paste does: the input event follows.
func (p *page) fill(css, value string) {
	p.t.Helper()
	p.do("fill "+css, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
		Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, %s);
		el.dispatchEvent(new Event('input', {bubbles: true}));
	})()`, jsString(css), jsString(value))))
}

// choose picks a select's option by value.
func (p *page) choose(css, value string) {
	p.t.Helper()
	p.do("choose "+value+" in "+css, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		el.value = %s;
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, jsString(css), jsString(value))))
}

func (p *page) value(css string) string {
	p.t.Helper()
	return eval[string](p, "value of "+css, fmt.Sprintf(`document.querySelector(%s).value`, jsString(css)))
}

// shot saves a screenshot of the whole page as name.png, checks that every
// control has a label and that nothing is wider than the window, and keeps
// the DOM for the secret scan.
func (p *page) shot(name string) string {
	p.t.Helper()
	p.snapshot()
	unlabelled := eval[[]string](p, "labels", `[...document.querySelectorAll('input, select, textarea')]
		.filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map(e => e.outerHTML.slice(0, 120))`)
	if len(unlabelled) > 0 {
		p.t.Errorf("%s: controls without a label: %v", name, unlabelled)
	}
	// A phone widens its layout viewport to fit what overflows, so the
	// page is measured against the width the window was given.
	if w := eval[int](p, "overflow", `document.documentElement.scrollWidth`); w > p.width {
		p.t.Errorf("%s: the page is %d px wide in a window of %d", name, w, p.width)
	}
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.fail("screenshot "+name, err)
	}
	f := filepath.Join(p.shots, name+".png")
	if err := os.WriteFile(f, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// snapshot keeps the DOM and every form value, which the DOM's HTML does
// not show.
func (p *page) snapshot() {
	p.t.Helper()
	p.doms = append(p.doms, eval[string](p, "DOM", `document.documentElement.outerHTML + "\n" +
		[...document.querySelectorAll('input, textarea, select')].map(e => e.value).join("\n") + "\n" +
		JSON.stringify(Object.assign({}, localStorage)) + document.cookie`))
}

// assertNeverShown fails if a plaintext secret is in a DOM snapshot or in
// any response the page received.
func (p *page) assertNeverShown(secrets map[string]string) {
	p.t.Helper()
	p.snapshot()
	for name, s := range secrets {
		for i, d := range p.doms {
			if strings.Contains(d, s) {
				p.t.Errorf("%s is in the page (DOM snapshot %d)", name, i)
			}
		}
		p.rec.mu.Lock()
		for _, r := range p.rec.bodies {
			if bytes.Contains(r.body, []byte(s)) {
				p.t.Errorf("%s is in the answer to %s", name, r.what)
			}
		}
		p.rec.mu.Unlock()
	}
}

// phone makes the window a phone's: 390 by 844 CSS pixels, touch.
func (p *page) phone() {
	p.t.Helper()
	p.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	p.width = 390
}

// signIn signs in with key from the keyboard: type it, press Enter.
func (p *page) signIn(key string) {
	p.t.Helper()
	p.goTo("/")
	p.typeInto("#api-key", key+"\n")
	p.do("signed in", chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
}
