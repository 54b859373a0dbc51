package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

var quoted = regexp.MustCompile(`'((?:[^']|'\\'')*)'`)

func unquote(s string) string { return strings.ReplaceAll(s, `'\''`, `'`) }

// The command plugs sign prints is accepted by a real receiver for the
// template's source: URL, headers and body are exactly what verifies.
func TestSignPrintsAWorkingRequest(t *testing.T) {
	for _, tc := range []struct {
		template, secret string
		headers          []string
	}{
		{"stripe", "whsec_0123456789abcdefghijklmnop", nil},
		{"github", "a-github-secret-0123", []string{"X-GitHub-Delivery: d-1", "X-GitHub-Event: issues"}},
		{"twilio", "twilio-auth-token-0123", nil},
		{"svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nil},
	} {
		t.Run(tc.template, func(t *testing.T) {
			tpl, _ := templates.MustBuiltin().Get(tc.template)
			const id = "0192d1a0-0000-7000-8000-000000000001"
			cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{{
				Id: id, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
				SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
				Secrets: []*plugsv1.SigningSecret{{Id: "s", Value: []byte(tc.secret)}},
			}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			store := &snapshot.Store{}
			store.Swap(cfg)
			var got []*plugsv1.UsageEvent
			log := slog.New(slog.DiscardHandler)
			mux := http.NewServeMux()
			receiver.New(pipeline.New(store, sinkFunc(func(ev *plugsv1.UsageEvent) { got = append(got, ev) }), pipeline.Options{Log: log}),
				receiver.Options{Log: log}).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()

			args := []string{"--template", tc.template, "--secret", tc.secret, "--url", srv.URL + "/v1/ingest/webhook/" + id}
			for _, h := range tc.headers {
				args = append(args, "--header", h)
			}
			var out bytes.Buffer
			if err := runSign(context.Background(), args, &out); err != nil {
				t.Fatal(err)
			}
			parts := quoted.FindAllStringSubmatch(out.String(), -1)
			req, _ := http.NewRequest(http.MethodPost, unquote(parts[0][1]), strings.NewReader(unquote(parts[len(parts)-1][1])))
			for _, p := range parts[1 : len(parts)-1] {
				name, value, _ := strings.Cut(unquote(p[1]), ": ")
				req.Header.Add(name, value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(got) != 1 {
				t.Fatalf("%d %s (events %d)\n%s", resp.StatusCode, b, len(got), out.String())
			}
		})
	}
}

type sinkFunc func(*plugsv1.UsageEvent)

func (f sinkFunc) Enqueue(_ context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	f(ev)
	return false, nil
}
