package forward

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/dataplane/egress"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func TestPolicyDefaults(t *testing.T) {
	p := policyOf(nil)
	if p.maxAttempts != 30 || p.initial != 5*time.Second || p.maxBackoff != 6*time.Hour || p.maxAge != 80*time.Hour {
		t.Fatalf("%+v", p)
	}
}

// Full jitter: each delay lies between 0 and the exponential ceiling, which
// doubles from the initial backoff up to the maximum.
func TestBackoff(t *testing.T) {
	p := policyOf(&plugsv1.RetryPolicy{
		InitialBackoff: durationpb.New(time.Second),
		MaxBackoff:     durationpb.New(10 * time.Second),
	})
	for n, ceiling := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		var top time.Duration
		for range 2000 {
			d := p.backoff(n)
			if d < 0 || d >= ceiling {
				t.Fatalf("attempt %d: %v outside [0, %v)", n, d, ceiling)
			}
			top = max(top, d)
		}
		if top < ceiling*8/10 {
			t.Fatalf("attempt %d: largest of 2000 delays %v, ceiling %v: not jittered over the range", n, top, ceiling)
		}
	}
	// A huge maximum does not overflow.
	p = policyOf(&plugsv1.RetryPolicy{MaxBackoff: durationpb.New(1 << 62)})
	if d := p.backoff(200); d < 0 {
		t.Fatal(d)
	}
}

func TestRetryAfter(t *testing.T) {
	p := policyOf(&plugsv1.RetryPolicy{MaxBackoff: durationpb.New(time.Minute)})
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		status int
		value  string
		want   time.Duration
		ok     bool
	}{
		{429, "3", 3 * time.Second, true},
		{503, "0", 0, true},
		{503, "-5", 0, true},
		{429, "86400", time.Minute, true},
		{429, "99999999999999999", time.Minute, true},
		{429, now.Add(20 * time.Second).Format(http.TimeFormat), 20 * time.Second, true},
		{429, now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{429, "soon", 0, false},
		{429, "", 0, false},
		{500, "3", 0, false},
	} {
		h := http.Header{}
		if c.value != "" {
			h.Set("Retry-After", c.value)
		}
		got, ok := p.retryAfter(c.status, h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%d %q: %v %v, want %v %v", c.status, c.value, got, ok, c.want, c.ok)
		}
	}
}

func TestJudge(t *testing.T) {
	p := policyOf(&plugsv1.RetryPolicy{RetryStatusCodes: []int32{409, 423}})
	netErr := errors.New("connection refused")
	for _, c := range []struct {
		status  int
		err     error
		refused bool
		want    verdict
	}{
		{200, nil, false, delivered},
		{204, nil, false, delivered},
		{0, netErr, false, retry},
		{0, egress.ErrForbiddenAddress, true, permanent},
		{500, nil, false, retry},
		{503, nil, false, retry},
		{429, nil, false, retry},
		{409, nil, false, retry},
		{423, nil, false, retry},
		{400, nil, false, permanent},
		{404, nil, false, permanent},
		{410, nil, false, permanent},
		{302, nil, false, permanent},
	} {
		if got := p.judge(c.status, c.err, c.refused); got != c.want {
			t.Errorf("%d %v: %v, want %v", c.status, c.err, got, c.want)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	long := make([]byte, 600)
	for i := range long {
		long[i] = 'a'
	}
	s := headerValue("line\r\nbreak é" + string(long))
	if len(s) > 512 || s[:11] != "line  break" {
		t.Fatalf("%q", s)
	}
}
