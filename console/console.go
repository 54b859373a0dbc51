// Package console serves the admin web console: a single-page application
// built from console/src by `make ui` into console/dist, committed, and
// embedded here, so building and running Plugs needs no Node. The control
// plane serves it on its HTTP listener at /, beside the REST API at /v1 on
// the same origin.
//
// Every answer carries a Content-Security-Policy that admits the console's
// own scripts, styles and API calls and nothing else (no inline code, no
// other origin, no framing), no-referrer, and nosniff. Hashed assets are
// cached for a year; index.html, which names them, is revalidated on each
// load, so a new binary's console is picked up at once.
package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Security headers of every console answer.
const (
	ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; " +
		"frame-ancestors 'none'"
	ReferrerPolicy = "no-referrer"
)

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	indexFile       = "index.html"
	manifestFile    = "build.json"
)

// file is one embedded file, ready to serve.
type file struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

// Handler serves the console. Paths under /assets/ are the bundle's hashed
// files (404 when absent: a stale page must not get HTML for a script);
// other paths with a file extension are the bundle's other files; the
// application's routes (/, and paths under its sections, see appRoutes)
// get index.html; anything else is 404, so a path the server does not
// serve (/metrics on an API port, say) never answers 200 with a page.
func Handler() http.Handler {
	return &handler{}
}

type handler struct {
	once  sync.Once
	files map[string]*file
	err   error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("Referrer-Policy", ReferrerPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	hdr.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.once.Do(h.load)
	if h.err != nil {
		http.Error(w, "console not built: run make ui", http.StatusInternalServerError)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	f, ok := h.files[name]
	switch {
	case ok && name != indexFile:
		if strings.HasPrefix(name, "assets/") {
			hdr.Set("Cache-Control", cacheImmutable)
		} else {
			hdr.Set("Cache-Control", cacheRevalidate)
		}
	case name != "" && (strings.HasPrefix(name, "assets/") || strings.Contains(path.Base(name), ".")):
		hdr.Set("Cache-Control", cacheRevalidate)
		http.NotFound(w, r)
		return
	case !appRoute(name):
		hdr.Set("Cache-Control", cacheRevalidate)
		http.NotFound(w, r)
		return
	default:
		// A route of the application (/, /sources/…): the page, which
		// routes in the browser.
		f = h.files[indexFile]
		hdr.Set("Cache-Control", cacheRevalidate)
	}
	serve(w, r, f)
}

// serve writes f, gzipped when the client takes it; http.ServeContent
// answers a conditional request from the ETag (each encoding has its own).
func serve(w http.ResponseWriter, r *http.Request, f *file) {
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Add("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gzipped != nil && acceptsGzip(r) {
		hdr.Set("Content-Encoding", "gzip")
		body, etag = f.gzipped, strings.TrimSuffix(f.etag, `"`)+`-gz"`
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// load reads the embedded bundle once: contents, types, ETags from the
// build manifest's hashes, and gzipped copies of what compresses.
func (h *handler) load() {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		h.err = err
		return
	}
	m, err := readManifest(root)
	if err != nil {
		h.err = err
		return
	}
	h.files = map[string]*file{}
	for name, sum := range m.Files {
		body, err := fs.ReadFile(root, name)
		if err != nil {
			h.err = err
			return
		}
		f := &file{body: body, contentType: contentType(name), etag: `"` + sum[:min(len(sum), 32)] + `"`}
		if compressible(f.contentType) && len(body) > 512 {
			f.gzipped = gzipped(body)
		}
		h.files[name] = f
	}
	if h.files[indexFile] == nil {
		h.err = fs.ErrNotExist
	}
}

// Manifest is dist/build.json, written by console/scripts/stamp.mjs.
type Manifest struct {
	// Sources is the SHA-256 of the sources the bundle was built from.
	Sources string `json:"sources"`
	// Files maps each file of the bundle to its SHA-256.
	Files map[string]string `json:"files"`
}

func readManifest(root fs.FS) (*Manifest, error) {
	b, err := fs.ReadFile(root, manifestFile)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "image/svg") || strings.HasPrefix(ct, "application/json")
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// appRoutes are the first path segments of the application's pages
// (console/src/main.tsx); "" is the overview at /.
var appRoutes = map[string]bool{"": true, "index.html": true, "sources": true, "destinations": true, "keys": true}

// appRoute says whether name (a cleaned path without its leading slash)
// is one of the application's pages.
func appRoute(name string) bool {
	first, _, _ := strings.Cut(name, "/")
	return appRoutes[first]
}
