package listen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// result is what posting one webhook got.
type result struct {
	forwarded bool
	status    int
	latency   time.Duration
	err       error
	// note says something the line should, for example that the
	// provider's own signature header was kept.
	note string
}

// hopHeaders are not forwarded from a received request: they described the
// connection it came on, or the body's framing, which the new request sets
// itself.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
	"Upgrade", "Content-Length", "Host"}

// forward posts ev to the local URL.
func (s *session) forward(ctx context.Context, ev *plugsv1.ListenEvent) result {
	var (
		req  *http.Request
		note string
		err  error
	)
	if rr := ev.GetRequest(); rr != nil {
		req, note, err = s.rawRequest(ctx, ev, rr)
	} else {
		req, err = s.deliveryRequest(ctx, ev)
	}
	if err != nil {
		return result{err: err, note: note}
	}
	start := time.Now()
	resp, err := s.http.Do(req)
	r := result{forwarded: true, latency: time.Since(start), note: note}
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	// Read, within a bound, so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r.status = resp.StatusCode
	return r
}

// deliveryRequest is the usage event as a destination gets it: the same
// CloudEvent body, headers and signature (forward.NewRequest).
func (s *session) deliveryRequest(ctx context.Context, ev *plugsv1.ListenEvent) (*http.Request, error) {
	if ev.GetUsageEvent() == nil {
		return nil, fmt.Errorf("%w: the stream carried no usage event", ErrNotForwarded)
	}
	body, err := forward.Body(ev.GetUsageEvent(), ev.GetUsageEventId())
	if err != nil {
		return nil, err
	}
	return forward.NewRequest(ctx, s.c.ForwardTo, s.c.Signer, ev.GetUsageEventId(), body, time.Now())
}

// rawRequest is the request as the provider sent it: its method, headers
// and body, from its receipt. Plugs' signature of the body is added under
// the usage event's id, unless the provider sent headers of the same
// names (a Standard Webhooks sender, GitHub under the hub style): its own
// are kept then, and the note says so.
func (s *session) rawRequest(ctx context.Context, ev *plugsv1.ListenEvent, rr *plugsv1.ListenRequestReceived) (*http.Request, string, error) {
	if rr.GetBodyTruncated() {
		return nil, "", fmt.Errorf("%w: the receipt kept only the start of the body", ErrNotForwarded)
	}
	method := rr.GetMethod()
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, s.c.ForwardTo, bytes.NewReader(rr.GetBody()))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrNotForwarded, err)
	}
	for _, h := range rr.GetHeaders() {
		name := http.CanonicalHeaderKey(h.GetName())
		if isHop(name) {
			continue
		}
		req.Header[name] = append(req.Header[name], h.GetValues()...)
	}
	sig, err := s.c.Signer.Sign(ev.GetUsageEventId(), time.Now(), rr.GetBody())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrNotForwarded, err)
	}
	for name := range sig {
		if _, taken := req.Header[name]; taken {
			return req, "provider's own " + strings.ToLower(name) + " kept, not signed by plugs", nil
		}
	}
	for name, v := range sig {
		req.Header[name] = v
	}
	return req, "", nil
}

func isHop(name string) bool {
	for _, h := range hopHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
