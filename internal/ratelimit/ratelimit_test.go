package ratelimit

import (
	"testing"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func TestSourceBucket(t *testing.T) {
	l := New(0, 0)
	now := time.Unix(1_700_000_000, 0)
	lim := &plugsv1.RateLimit{RequestsPerSecond: 2, Burst: 3}
	for i := range 3 {
		if ok, _ := l.Allow("a", lim, now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("a", lim, now)
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v, retry after %v; want refused, 500ms", ok, retry)
	}
	// Another source has its own bucket; a source without a limit has none.
	if ok, _ := l.Allow("b", lim, now); !ok {
		t.Fatal("another source refused")
	}
	for range 100 {
		if ok, _ := l.Allow("c", nil, now); !ok {
			t.Fatal("a source without a limit refused")
		}
	}
	// Refill.
	if ok, _ := l.Allow("a", lim, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the refill time")
	}
	// A changed limit takes effect at once.
	if ok, _ := l.Allow("a", &plugsv1.RateLimit{RequestsPerSecond: 100}, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused under a raised limit")
	}
}

func TestGlobalBucket(t *testing.T) {
	l := New(10, 0) // burst 10
	now := time.Unix(1_700_000_000, 0)
	lim := &plugsv1.RateLimit{RequestsPerSecond: 5}
	for range 5 {
		if ok, _ := l.Allow("a", lim, now); !ok {
			t.Fatal("refused within both limits")
		}
	}
	for range 5 {
		if ok, _ := l.Allow("b", nil, now); !ok {
			t.Fatal("refused within the global limit")
		}
	}
	ok, retry := l.Allow("c", nil, now)
	if ok || retry != 100*time.Millisecond {
		t.Fatalf("past the global burst: ok %v, retry after %v; want refused, 100ms", ok, retry)
	}
	// A request the global bucket refuses gives the source's token back,
	// and one the source's bucket refuses takes no global token.
	l = New(1, 1)
	if ok, _ := l.Allow("a", lim, now); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := l.Allow("a", lim, now); ok {
		t.Fatal("second request allowed past the global limit")
	}
	if got := l.tokens("a", now); got != 4 {
		t.Fatalf("source bucket holds %v tokens after a globally refused request, want 4", got)
	}
	tight := &plugsv1.RateLimit{RequestsPerSecond: 1}
	l = New(1, 2)
	if ok, _ := l.Allow("t", tight, now); !ok {
		t.Fatal("refused within both limits")
	}
	if ok, _ := l.Allow("t", tight, now); ok {
		t.Fatal("allowed past the source's limit")
	}
	if ok, _ := l.Allow("u", nil, now); !ok {
		t.Fatal("the source's refused request took the global token")
	}
}

// tokens is what the source's bucket holds at now.
func (l *Limiter) tokens(key string, now time.Time) float64 {
	v, _ := l.keys.Load(key)
	return v.(*bucket).lim.TokensAt(now)
}

func TestNilAllows(t *testing.T) {
	var l *Limiter
	if ok, _ := l.Allow("a", &plugsv1.RateLimit{RequestsPerSecond: 1}, time.Now()); !ok {
		t.Fatal("nil limiter refused")
	}
}
