package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Defaults of a Fetcher.
const (
	DefaultFetchTimeout   = 5 * time.Second
	DefaultFetchWait      = 2 * time.Second
	DefaultKeyTTL         = time.Hour
	DefaultMinKeyTTL      = 5 * time.Minute
	DefaultMaxKeyTTL      = 24 * time.Hour
	DefaultNegativeTTL    = 30 * time.Second
	DefaultMaxKeyEntries  = 1024
	DefaultMaxFetches     = 16
	DefaultKeyRefetchWait = time.Minute
)

// FetcherOptions configure a Fetcher. Zero values take the defaults above.
type FetcherOptions struct {
	// Client makes the requests. It must pass every connection through
	// the egress guard (egress.Guard.Client); the Fetcher adds the host
	// allowlist and the https rule of each scheme.
	Client *http.Client
	// Timeout bounds one fetch, whoever waits for it.
	Timeout time.Duration
	// Wait bounds how long a webhook waits for a fetch under way: past
	// it, it is answered 503 while the fetch goes on for the retries.
	Wait time.Duration
	// DefaultTTL is how long a response without Cache-Control or Expires
	// is kept; MinTTL and MaxTTL bound what the provider asks for.
	DefaultTTL, MinTTL, MaxTTL time.Duration
	// NegativeTTL is how long a failed fetch is remembered before the URL
	// is tried again.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; MaxFetches the fetches under way at
	// once (past it, a request for a key not cached is answered 503).
	MaxEntries, MaxFetches int
	// RefetchWait is how long after a fetch a key set is fetched again
	// because a request named a key id it lacks.
	RefetchWait time.Duration
	// Roots replaces root pools, for tests: a chain meant for
	// ROOTS_SYSTEM or ROOTS_APPLE_ROOT_CA_G3 is checked against the pool
	// given here instead.
	Roots map[plugsv1.KeySource_Roots]*x509.CertPool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Fetcher fetches what public-key verification needs from providers
// (certificates, key sets, keys by id), and caches it. A URL is fetched by
// one request at a time whoever waits for it; a cached value is refreshed
// in the background before it expires, so once a key is cached no webhook
// waits for the network again; a failure is remembered for NegativeTTL. It
// is safe for concurrent use, and shared by every source of a data plane.
type Fetcher struct {
	opts    FetcherOptions
	mu      sync.Mutex
	entries map[string]*fetchEntry
	running chan struct{} // semaphore of fetches under way
}

// fetchEntry is one cached URL.
type fetchEntry struct {
	value   any
	err     error
	fetched time.Time
	expires time.Time // the value or error is not used past it
	refresh time.Time // a background refresh starts past it
	done    chan struct{}
}

// fetchSpec says what to fetch and how to read it.
type fetchSpec struct {
	key    string // cache key
	method string
	url    string
	body   []byte
	header http.Header
	// parse turns the response body into the cached value, and may lower
	// its expiry (a certificate's NotAfter). An error wrapping
	// ErrSignatureInvalid says what was served cannot be trusted; any
	// other makes the key unavailable.
	parse func(body []byte) (any, time.Time, error)
}

// NewFetcher returns a fetcher.
func NewFetcher(opts FetcherOptions) *Fetcher {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Timeout, DefaultFetchTimeout)
	def(&opts.Wait, DefaultFetchWait)
	def(&opts.DefaultTTL, DefaultKeyTTL)
	def(&opts.MinTTL, DefaultMinKeyTTL)
	def(&opts.MaxTTL, DefaultMaxKeyTTL)
	def(&opts.NegativeTTL, DefaultNegativeTTL)
	def(&opts.RefetchWait, DefaultKeyRefetchWait)
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxKeyEntries
	}
	if opts.MaxFetches <= 0 {
		opts.MaxFetches = DefaultMaxFetches
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Fetcher{opts: opts, entries: map[string]*fetchEntry{}, running: make(chan struct{}, opts.MaxFetches)}
}

// KeyUnavailableError says a key could not be had from the provider. It
// wraps ErrKeyUnavailable and the cause.
type KeyUnavailableError struct {
	URL string
	Err error
	// RetryAfter is when the key will next be tried.
	RetryAfter time.Duration
}

func (e *KeyUnavailableError) Error() string {
	return fmt.Sprintf("%v: %s: %v", ErrKeyUnavailable, e.URL, e.Err)
}

func (e *KeyUnavailableError) Unwrap() []error { return []error{ErrKeyUnavailable, e.Err} }

// RetryAfter is how long after err a provider should retry: set for
// errors wrapping ErrKeyUnavailable, zero otherwise.
func RetryAfter(err error) time.Duration {
	var ke *KeyUnavailableError
	if errors.As(err, &ke) {
		return ke.RetryAfter
	}
	return 0
}

// get returns the value of spec's URL, from the cache when it holds one
// fetched at or after fresherThan (zero: any), and otherwise from a fetch
// waited on for at most the Fetcher's Wait.
func (f *Fetcher) get(ctx context.Context, spec fetchSpec, fresherThan time.Time) (any, error) {
	now := f.opts.Now()
	f.mu.Lock()
	e := f.entries[spec.key]
	if e != nil && now.Before(e.expires) && !e.fetched.Before(fresherThan) && (e.err != nil || e.value != nil) {
		if e.done == nil && e.err == nil && !now.Before(e.refresh) {
			f.startLocked(spec, e) // refresh ahead; this request does not wait
		}
		v, err := e.value, e.err
		retry := e.expires.Sub(now)
		f.mu.Unlock()
		if err != nil {
			return nil, f.unavailable(spec, err, retry)
		}
		return v, nil
	}
	if e == nil {
		f.evictLocked(now)
		e = &fetchEntry{}
		f.entries[spec.key] = e
	}
	if e.done == nil && !f.startLocked(spec, e) {
		f.mu.Unlock()
		return nil, f.unavailable(spec, errors.New("too many key fetches under way"), time.Second)
	}
	done := e.done
	f.mu.Unlock()

	timer := time.NewTimer(f.opts.Wait)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		return nil, f.unavailable(spec, fmt.Errorf("no answer within %s", f.opts.Wait), f.opts.Timeout)
	case <-ctx.Done():
		return nil, f.unavailable(spec, ctx.Err(), f.opts.Timeout)
	}
	f.mu.Lock()
	v, err, retry := e.value, e.err, e.expires.Sub(f.opts.Now())
	f.mu.Unlock()
	if err != nil {
		return nil, f.unavailable(spec, err, retry)
	}
	return v, nil
}

// unavailable wraps a failure: a served value that cannot be trusted is a
// verification failure, anything else makes the key unavailable.
func (f *Fetcher) unavailable(spec fetchSpec, err error, retry time.Duration) error {
	if errors.Is(err, ErrSignatureInvalid) {
		return err
	}
	return &KeyUnavailableError{URL: redact(spec.url), Err: err, RetryAfter: max(retry, time.Second).Round(time.Second)}
}

// redact drops a URL's query, which may carry a credential.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// startLocked starts a fetch of spec into e, unless MaxFetches are under
// way. f.mu is held.
func (f *Fetcher) startLocked(spec fetchSpec, e *fetchEntry) bool {
	select {
	case f.running <- struct{}{}:
	default:
		return false
	}
	e.done = make(chan struct{})
	go f.fetch(spec, e)
	return true
}

// fetch runs one fetch on its own deadline: a webhook that stops waiting
// does not cancel it, so the retry finds the key cached.
func (f *Fetcher) fetch(spec fetchSpec, e *fetchEntry) {
	defer func() { <-f.running }()
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
	defer cancel()
	value, ttl, err := f.do(ctx, spec)
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil:
		e.value, e.err, e.fetched = value, nil, now
		e.expires = now.Add(ttl)
		e.refresh = now.Add(ttl * 4 / 5)
	case e.value != nil && now.Before(e.expires) && !errors.Is(err, ErrSignatureInvalid):
		// A refresh failed while the value held still serves: keep it,
		// and try again later.
		e.refresh = now.Add(f.opts.NegativeTTL)
		f.opts.Log.Warn("key refresh failed; the cached key still serves", "url", redact(spec.url), "error", err)
	default:
		e.value, e.err, e.fetched = nil, err, now
		e.expires = now.Add(f.opts.NegativeTTL)
		f.opts.Log.Warn("key fetch failed", "url", redact(spec.url), "error", err)
	}
	close(e.done)
	e.done = nil
}

// do makes the request and parses the answer; it returns how long the
// value may be kept.
func (f *Fetcher) do(ctx context.Context, spec fetchSpec) (any, time.Duration, error) {
	method := spec.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if spec.body != nil {
		body = strings.NewReader(string(spec.body))
	}
	req, err := http.NewRequestWithContext(ctx, method, spec.url, body)
	if err != nil {
		return nil, 0, err
	}
	for k, vs := range spec.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "Plugs")
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyText+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("answered %s", resp.Status)
	}
	if len(data) > maxKeyText {
		return nil, 0, fmt.Errorf("answer longer than %d bytes", maxKeyText)
	}
	value, notAfter, err := spec.parse(data)
	if err != nil {
		return nil, 0, err
	}
	now := f.opts.Now()
	ttl := f.ttl(resp.Header, now)
	if !notAfter.IsZero() && notAfter.Sub(now) < ttl {
		ttl = max(notAfter.Sub(now), time.Second)
	}
	return value, ttl, nil
}

// ttl reads how long the provider lets its answer be kept, within
// MinTTL and MaxTTL.
func (f *Fetcher) ttl(h http.Header, now time.Time) time.Duration {
	ttl := f.opts.DefaultTTL
	found := false
	for d := range strings.SplitSeq(h.Get("Cache-Control"), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "max-age", "s-maxage":
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 && !found {
				ttl, found = time.Duration(min(n, int64(f.opts.MaxTTL/time.Second)))*time.Second, true
			}
		case "no-store", "no-cache":
			// Keys are still kept MinTTL: fetching per request is what the
			// cache is there to prevent.
			ttl, found = 0, true
		}
	}
	if !found {
		if t, err := http.ParseTime(h.Get("Expires")); err == nil {
			ttl = t.Sub(now)
		}
	}
	return min(max(ttl, f.opts.MinTTL), f.opts.MaxTTL)
}

// evictLocked makes room for one entry: expired entries go first, then the
// one closest to expiring. Entries being fetched stay. f.mu is held.
func (f *Fetcher) evictLocked(now time.Time) {
	if len(f.entries) < f.opts.MaxEntries {
		return
	}
	var victim string
	var soonest time.Time
	for k, e := range f.entries {
		if e.done != nil {
			continue
		}
		if !now.Before(e.expires) {
			delete(f.entries, k)
			continue
		}
		if victim == "" || e.expires.Before(soonest) {
			victim, soonest = k, e.expires
		}
	}
	if len(f.entries) >= f.opts.MaxEntries && victim != "" {
		delete(f.entries, victim)
	}
}

// remember returns what compute made of key, computing it once for all
// callers while the result holds (until the time compute returns, at most
// MaxTTL). Failures are not kept. It shares the cache, and its bound, with
// fetched values: a token's certificate chain is checked once, not per
// request.
func (f *Fetcher) remember(key string, compute func() (any, time.Time, error)) (any, error) {
	now := f.opts.Now()
	f.mu.Lock()
	if e := f.entries[key]; e != nil && e.value != nil && now.Before(e.expires) {
		v := e.value
		f.mu.Unlock()
		return v, nil
	}
	f.mu.Unlock()
	v, until, err := compute()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.entries[key]; !ok {
		f.evictLocked(now)
	}
	f.entries[key] = &fetchEntry{value: v, fetched: now, expires: minTime(until, now.Add(f.opts.MaxTTL)), refresh: until}
	return v, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// roots returns the pool a chain must lead to.
func (f *Fetcher) roots(r plugsv1.KeySource_Roots) (*x509.CertPool, error) {
	if p := f.opts.Roots[r]; p != nil {
		return p, nil
	}
	switch r {
	case plugsv1.KeySource_ROOTS_SYSTEM:
		return x509.SystemCertPool()
	case plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3:
		return appleRoots()
	}
	return nil, fmt.Errorf("no root pool %v", r)
}
