package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/plugshq/plugs/console"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConsoleServing(t *testing.T) {
	h := console.Handler()

	// Routes of the application get the page, revalidated on each load.
	index := get(t, h, http.MethodGet, "/")
	page := body(t, index)
	if index.StatusCode != http.StatusOK || !strings.Contains(page, `<div id="app">`) {
		t.Fatalf("GET /: %d %q", index.StatusCode, page)
	}
	if cc := index.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index Cache-Control %q", cc)
	}
	for _, p := range []string{"/sources", "/sources/0190c3d2-7f4e-7b7a-9c1d-2e3f4a5b6c7d/requests?outcome=OUTCOME_REJECTED", "/keys"} {
		r := get(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusOK || body(t, r) != page {
			t.Errorf("GET %s: %d, not the page", p, r.StatusCode)
		}
	}

	// The hashed assets the page names: immutable, gzipped when asked.
	script := regexp.MustCompile(`src="(/assets/[^"]+\.js)"`).FindStringSubmatch(page)
	if script == nil {
		t.Fatalf("no script in the page: %s", page)
	}
	js := get(t, h, http.MethodGet, script[1], "Accept-Encoding", "br, gzip")
	if js.StatusCode != http.StatusOK || js.Header.Get("Content-Encoding") != "gzip" ||
		js.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET %s: %d %v", script[1], js.StatusCode, js.Header)
	}
	plain := get(t, h, http.MethodGet, script[1])
	if plain.Header.Get("Content-Encoding") != "" || body(t, plain) != body(t, js) {
		t.Errorf("the plain and gzipped script differ")
	}
	// A client holding the current copy gets 304.
	again := get(t, h, http.MethodGet, "/", "If-None-Match", index.Header.Get("ETag"))
	if index.Header.Get("ETag") == "" || again.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET /: %d (etag %q)", again.StatusCode, index.Header.Get("ETag"))
	}

	// A missing asset is 404, not the page; so is the build manifest, and
	// so is a path that is none of the application's pages: the server's
	// own paths must not answer 200 with a page when they are off.
	for _, p := range []string{"/assets/index-old.js", "/favicon.ico", "/build.json", "/metrics", "/healthz", "/v2/x"} {
		if r := get(t, h, http.MethodGet, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
	}
	if r := get(t, h, http.MethodPost, "/"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", r.StatusCode)
	}

	// Every answer carries the security headers.
	for _, r := range []*http.Response{index, js, get(t, h, http.MethodGet, "/nope.js"), get(t, h, http.MethodDelete, "/")} {
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("CSP %q", csp)
		}
		if r.Header.Get("Referrer-Policy") != "no-referrer" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers %v", r.Header)
		}
	}
	if !bytes.Contains([]byte(page), []byte(`name="referrer" content="no-referrer"`)) {
		t.Error("the page does not set its own referrer policy")
	}
}
