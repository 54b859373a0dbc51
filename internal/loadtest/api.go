package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API is the part of Plugs' REST API the harness uses, and the data
// plane's readiness endpoint.
type API struct {
	// Base is the REST base URL, "http://host:port".
	Base string
	Key  string
	// Ingest is the data plane's base URL, for /readyz and webhook URLs.
	Ingest string
	HTTP   *http.Client
}

func (a *API) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return http.DefaultClient
}

// call sends a JSON request and decodes a 2xx JSON answer into out. A
// call refused for the API key's rate (429) is made again after the
// Retry-After the control plane asks for, a bounded number of times.
func (a *API) call(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%w: encode %s: %w", ErrAPI, path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		status, header, data, err := a.do(ctx, method, path, payload)
		if err != nil {
			return err
		}
		if status == http.StatusTooManyRequests && attempt < 100 {
			wait := time.Second
			if s, err := strconv.Atoi(header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, ctx.Err())
			case <-time.After(wait):
			}
			continue
		}
		if status/100 != 2 {
			return fmt.Errorf("%w: %s %s: %d: %s", ErrAPI, method, path, status, strings.TrimSpace(string(data)))
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%w: %s %s: decode: %w", ErrAPI, method, path, err)
			}
		}
		return nil
	}
}

// do sends one request and reads the answer.
func (a *API) do(ctx context.Context, method, path string, payload []byte) (int, http.Header, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrAPI, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client().Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %s %s: %w", ErrAPI, method, path, err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// source is the part of a Source resource the harness reads and writes
// (the REST API speaks protojson: lowerCamelCase names).
type source struct {
	ID                  string `json:"id,omitempty"`
	DisplayName         string `json:"displayName,omitempty"`
	TemplateID          string `json:"templateId,omitempty"`
	MetricID            string `json:"metricId,omitempty"`
	Secret              string `json:"secret,omitempty"`
	WebhookURL          string `json:"webhookUrl,omitempty"`
	DataPlanesCurrent   int    `json:"dataPlanesCurrent,omitempty"`
	DataPlanesConnected int    `json:"dataPlanesConnected,omitempty"`
}

// CreateSource creates a Stripe-template source with secret and returns
// its endpoint.
func (a *API) CreateSource(ctx context.Context, name, secret string) (string, Endpoint, error) {
	var out source
	err := a.call(ctx, http.MethodPost, "/v1/sources", source{
		DisplayName: name, TemplateID: Template, MetricID: "load_test", Secret: secret,
	}, &out)
	if err != nil {
		return "", Endpoint{}, err
	}
	return out.ID, Endpoint{URL: strings.TrimSuffix(a.Ingest, "/") + "/v1/ingest/webhook/" + out.ID, Secret: secret}, nil
}

// SourceCurrent reports whether every connected data plane runs the
// source's current revision (and at least one is connected).
func (a *API) SourceCurrent(ctx context.Context, id string) (bool, error) {
	var out source
	if err := a.call(ctx, http.MethodGet, "/v1/sources/"+id, nil, &out); err != nil {
		return false, err
	}
	return out.DataPlanesConnected > 0 && out.DataPlanesCurrent >= out.DataPlanesConnected, nil
}

// CreateDestination registers url as a destination of the given sources
// (none: every source of the tenant), signed Standard Webhooks style with
// key, with up to concurrency deliveries under way.
func (a *API) CreateDestination(ctx context.Context, url, key string, concurrency int, sourceIDs ...string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	in := map[string]any{"displayName": "load test sink", "url": url, "sharedKey": key, "maxConcurrency": concurrency}
	if len(sourceIDs) > 0 {
		in["sourceIds"] = sourceIDs
	}
	err := a.call(ctx, http.MethodPost, "/v1/destinations", in, &out)
	return out.ID, err
}

// Readiness is the data plane's /readyz answer.
type Readiness struct {
	Ready   bool   `json:"ready"`
	Version string `json:"version"`
	Sources int    `json:"sources"`
}

// Ready reads the data plane's readiness.
func (a *API) Ready(ctx context.Context) (Readiness, error) {
	var r Readiness
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(a.Ingest, "/")+"/readyz", nil)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrAPI, err)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return r, fmt.Errorf("%w: readyz: %w", ErrAPI, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("%w: readyz: %w", ErrAPI, err)
	}
	return r, nil
}

// poll calls cond every interval until it reports true, fails, or
// timeout passes.
func poll(ctx context.Context, what string, timeout, interval time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w: %s: %w", ErrStart, what, last)
			}
			return fmt.Errorf("%w: %s: not within %s", ErrStart, what, timeout)
		case <-time.After(interval):
		}
	}
}
