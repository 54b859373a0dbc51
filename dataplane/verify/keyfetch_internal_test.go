package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyServer counts requests per path and answers with answer.
type keyServer struct {
	srv    *httptest.Server
	hits   atomic.Int64
	answer func(w http.ResponseWriter, r *http.Request)
}

func newKeyServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *keyServer {
	ks := &keyServer{answer: answer}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		ks.answer(w, r)
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func textSpec(url string) fetchSpec {
	return fetchSpec{key: url, url: url, parse: func(b []byte) (any, time.Time, error) { return string(b), time.Time{}, nil }}
}

// Many requests waiting on one URL make one fetch.
func TestFetchSingleFlight(t *testing.T) {
	release := make(chan struct{})
	ks := newKeyServer(t, func(w http.ResponseWriter, _ *http.Request) { <-release; fmt.Fprint(w, "key") })
	f := NewFetcher(FetcherOptions{Client: ks.srv.Client(), Wait: 10 * time.Second})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			v, err := f.get(context.Background(), textSpec(ks.srv.URL+"/k"), time.Time{})
			if err == nil && v != "key" {
				err = fmt.Errorf("value %v", v)
			}
			errs <- err
		})
	}
	// Every waiter is parked on the one fetch before it is answered.
	for deadline := time.Now().Add(5 * time.Second); ks.hits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ks.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// The provider's max-age decides how long a key is kept, within bounds;
// the key is refreshed in the background before it expires, so no request
// waits for it again.
func TestFetchTTLAndRefresh(t *testing.T) {
	maxAge := "600"
	version := atomic.Int64{}
	ks := newKeyServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+maxAge)
		fmt.Fprintf(w, "v%d", version.Add(1))
	})
	c := &clock{now: time.Now()}
	f := NewFetcher(FetcherOptions{Client: ks.srv.Client(), Now: c.Now, MinTTL: 5 * time.Minute, MaxTTL: time.Hour})
	get := func() any {
		v, err := f.get(context.Background(), textSpec(ks.srv.URL), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != "v1" {
		t.Fatalf("got %v", v)
	}
	c.Add(7 * time.Minute)
	if v := get(); v != "v1" || ks.hits.Load() != 1 {
		t.Fatalf("within max-age: %v after %d fetches", v, ks.hits.Load())
	}
	c.Add(2 * time.Minute) // 9 min: past 4/5 of the TTL
	if v := get(); v != "v1" {
		t.Fatalf("the refreshing request waited for the new key: %v", v)
	}
	for deadline := time.Now().Add(5 * time.Second); ks.hits.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); get() != "v2" && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if v := get(); v != "v2" {
		t.Fatalf("after the background refresh: %v", v)
	}
	// max-age=0 and a day are held to the bounds.
	for _, c := range []struct {
		header string
		want   time.Duration
	}{{"max-age=0", 5 * time.Minute}, {"no-store", 5 * time.Minute}, {"max-age=86400", time.Hour}, {"", DefaultKeyTTL}, {"s-maxage=900", 15 * time.Minute}} {
		h := http.Header{}
		if c.header != "" {
			h.Set("Cache-Control", c.header)
		}
		if got := f.ttl(h, time.Now()); got != c.want {
			t.Errorf("%q: ttl %s, want %s", c.header, got, c.want)
		}
	}
}

// The cache holds at most MaxEntries; past MaxFetches under way, a key not
// cached is unavailable at once.
func TestFetchBounds(t *testing.T) {
	ks := newKeyServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.Path) })
	f := NewFetcher(FetcherOptions{Client: ks.srv.Client(), MaxEntries: 8})
	for i := range 50 {
		if _, err := f.get(context.Background(), textSpec(fmt.Sprintf("%s/%d", ks.srv.URL, i)), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	n := len(f.entries)
	f.mu.Unlock()
	if n > 8 {
		t.Fatalf("%d entries cached, bound 8", n)
	}

	release := make(chan struct{})
	defer close(release)
	slow := newKeyServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	g := NewFetcher(FetcherOptions{Client: slow.srv.Client(), MaxFetches: 2, Wait: 50 * time.Millisecond})
	for i := range 2 {
		if _, err := g.get(context.Background(), textSpec(fmt.Sprintf("%s/%d", slow.srv.URL, i)), time.Time{}); !errors.Is(err, ErrKeyUnavailable) {
			t.Fatalf("slow fetch %d: %v", i, err)
		}
	}
	hits := slow.hits.Load()
	_, err := g.get(context.Background(), textSpec(slow.srv.URL+"/third"), time.Time{})
	if !errors.Is(err, ErrKeyUnavailable) || RetryAfter(err) < time.Second {
		t.Fatalf("third: %v (retry after %s)", err, RetryAfter(err))
	}
	if slow.hits.Load() != hits {
		t.Fatal("a fetch past MaxFetches was made")
	}
}

// A request that gives up does not cancel the fetch: its retry finds the
// key cached.
func TestFetchOutlivesTheRequest(t *testing.T) {
	release := make(chan struct{})
	ks := newKeyServer(t, func(w http.ResponseWriter, _ *http.Request) { <-release; fmt.Fprint(w, "key") })
	f := NewFetcher(FetcherOptions{Client: ks.srv.Client(), Wait: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.get(ctx, textSpec(ks.srv.URL), time.Time{}); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("cancelled: %v", err)
	}
	close(release)
	var v any
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if v, err = f.get(context.Background(), textSpec(ks.srv.URL), time.Time{}); err == nil {
			break
		}
	}
	if v != "key" || ks.hits.Load() != 1 {
		t.Fatalf("retry: %v, %v after %d fetches", v, err, ks.hits.Load())
	}
}
