package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/templates"
)

// apiServer is a control plane on a free port, without a backbone or a
// data plane, and the API key of its one tenant.
type apiServer struct {
	addr, key string
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(prev) })
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, server.Config{
		DB: db, Keyring: kr, Catalog: templates.MustBuiltin(),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		PublicIngestURL: "https://ingest.example.com",
		Log:             slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	_, key, err := auth.Bootstrap(ctx, db.Client, "acme", "cli")
	if err != nil {
		t.Fatal(err)
	}
	return &apiServer{addr: srv.GRPCAddr, key: key}
}

// clearClientEnv keeps the caller's PLUGS_* settings out of a test.
func clearClientEnv(t *testing.T) {
	for _, name := range []string{"PLUGS_API_KEY", "PLUGS_SERVER", "PLUGS_CONFIG", "PLUGS_DATA_DIR", "PLUGS_TLS_CA",
		"PLUGS_TLS_SERVER_NAME", "PLUGS_SOURCE_SECRET", "PLUGS_SHARED_KEY"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

// run runs a client command with args and returns what it printed.
func run(cmd func(context.Context, []string, io.Writer) error, args ...string) (string, error) {
	var out bytes.Buffer
	err := cmd(context.Background(), args, &out)
	return out.String(), err
}

// with is args, a verb and its arguments, with the connection flags of s
// after the verb.
func (s *apiServer) with(args ...string) []string {
	if len(args) == 0 {
		return nil
	}
	return append([]string{args[0], "--server", s.addr, "--api-key", s.key}, args[1:]...)
}

// tableValue reads the value of a field line of a single resource's table.
func tableValue(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s{2,}(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", name, out)
	}
	return strings.TrimSpace(m[1])
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// create → list shows it → get → delete → get answers NOT_FOUND, in tables
// and in JSON.
func TestSourcesLifecycle(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	secretFile := writeFile(t, "secret", "whsec_0123456789abcdefghijklmnop\n")

	out, err := run(runSources, s.with("create", "--name", "Stripe live", "--template", "stripe", "--metric", "invoices",
		"--secret-file", secretFile, "--event-types", "invoice.*, customer.subscription.created")...)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	id := tableValue(t, out, "id")
	if got := tableValue(t, out, "webhook url"); got != "https://ingest.example.com/v1/ingest/webhook/"+id {
		t.Errorf("webhook url %q", got)
	}
	if got := tableValue(t, out, "event types"); got != "invoice.*,customer.subscription.created" {
		t.Errorf("event types %q", got)
	}
	if !strings.HasPrefix(tableValue(t, out, "secrets"), "sha256:") || strings.Contains(out, "whsec_") {
		t.Errorf("secrets line:\n%s", out)
	}

	// The secret from the environment, the answer as JSON.
	t.Setenv("PLUGS_SOURCE_SECRET", "gh-secret-0123456789abcdef")
	out, err = run(runSources, s.with("create", "--name", "GitHub", "--template", "github", "-o", "json")...)
	if err != nil {
		t.Fatalf("create from PLUGS_SOURCE_SECRET: %v\n%s", err, out)
	}
	var second struct{ ID, DisplayName, TemplateID string }
	if err := json.Unmarshal([]byte(out), &second); err != nil || second.ID == "" || second.DisplayName != "GitHub" {
		t.Fatalf("create -o json: %v %+v\n%s", err, second, out)
	}

	// One source a page: the list follows every page.
	out, err = run(runSources, s.with("list", "--page-size", "1")...)
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "  NAME ") ||
		!strings.HasPrefix(lines[1], id+"  Stripe live  stripe") || !strings.HasPrefix(lines[2], second.ID) {
		t.Fatalf("list:\n%s", out)
	}
	out, err = run(runSources, s.with("list", "--page-size", "1", "-o", "json")...)
	var listed []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 || listed[0]["id"] != id {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}

	// Flags may follow the id.
	out, err = run(runSources, s.with("get", id, "-o", "json")...)
	var got map[string]any
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got["id"] != id || got["metricId"] != "invoices" || got["secret"] != nil {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}
	out, err = run(runSources, s.with("get", id)...)
	if err != nil || tableValue(t, out, "name") != "Stripe live" || tableValue(t, out, "status") != "active" {
		t.Fatalf("get: %v\n%s", err, out)
	}

	out, err = run(runSources, s.with("delete", id)...)
	if err != nil || !strings.Contains(out, "deleted  source "+id) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	out, err = run(runSources, s.with("get", id)...)
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "source not found (NOT_FOUND)") || out != "" {
		t.Fatalf("get after delete: %v\n%s", err, out)
	}
	out, _ = run(runSources, s.with("list", "-o", "json")...)
	if strings.Contains(out, id) {
		t.Fatalf("deleted source still listed:\n%s", out)
	}
}

// A refused create names each offending field on a line of its own.
func TestSourcesValidationErrorNamesFields(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	out, err := run(runSources, s.with("create", "--name", "x", "--template", "nope", "--secret", "short", "--metric", "bad metric")...)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("want INVALID_ARGUMENT, got %v\n%s", err, out)
	}
	msg := err.Error()
	for _, want := range []string{"(INVALID_ARGUMENT)", "\n  source.template_id: unknown template \"nope\"", "\n  source.metric_id: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}

	// Problems the command sees itself never reach the server.
	for _, args := range [][]string{
		{"create", "--template", "stripe", "--secret", "whsec_0123456789abcdefghijklmnop"}, // no --name
		{"create", "--name", "x", "--template", "stripe", "--secret", "a", "--secret-file", "f"},
		{"get"},
		{"get", "a", "b"},
		{"list", "extra"},
		{"list", "-o", "yaml"},
		{"frobnicate"},
		{},
	} {
		if _, err := run(runSources, s.with(args...)...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	// PLUGS_NAME is not --name: only connection settings come from the
	// environment.
	t.Setenv("PLUGS_NAME", "from the environment")
	if _, err := run(runSources, s.with("create", "--template", "stripe", "--secret", "whsec_0123456789abcdefghijklmnop")...); !errors.Is(err, errUsage) {
		t.Errorf("PLUGS_NAME named the source: %v", err)
	}
}

// The API key comes from --api-key, PLUGS_API_KEY, a --config file (or
// PLUGS_CONFIG), or the key plugs dev saved, in that order.
func TestSourcesAPIKeySources(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	empty := t.TempDir() // no plugs dev key here
	list := func(args ...string) error {
		out, err := run(runSources, append([]string{"list", "--data-dir", empty}, args...)...)
		if err == nil && !strings.HasPrefix(out, "ID ") {
			t.Errorf("list printed:\n%s", out)
		}
		return err
	}

	if err := list("--server", s.addr); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--api-key") {
		t.Fatalf("no key anywhere: %v", err)
	}
	if err := list("--server", s.addr, "--api-key", s.key); err != nil {
		t.Fatalf("--api-key: %v", err)
	}
	if err := list("--server", s.addr, "--api-key", "plg_wrong"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a wrong key: %v", err)
	}

	t.Setenv("PLUGS_API_KEY", s.key)
	t.Setenv("PLUGS_SERVER", s.addr)
	if err := list(); err != nil {
		t.Fatalf("PLUGS_API_KEY and PLUGS_SERVER: %v", err)
	}
	if err := list("--api-key", "plg_wrong"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the flag must beat the environment: %v", err)
	}
	os.Unsetenv("PLUGS_API_KEY")
	os.Unsetenv("PLUGS_SERVER")

	config := writeFile(t, "plugs.yaml", "server: "+s.addr+"\napi-key: "+s.key+"\n")
	if err := list("--config", config); err != nil {
		t.Fatalf("--config: %v", err)
	}
	t.Setenv("PLUGS_CONFIG", config)
	if err := list(); err != nil {
		t.Fatalf("PLUGS_CONFIG: %v", err)
	}
	t.Setenv("PLUGS_API_KEY", "plg_wrong")
	if err := list(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("the environment must beat the file: %v", err)
	}
	os.Unsetenv("PLUGS_API_KEY")

	bad := writeFile(t, "bad.yaml", "api-key: x\nname: y\n")
	if err := list("--config", bad); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), `unknown setting "name"`) {
		t.Fatalf("a file with a command flag: %v", err)
	}

	// plugs dev's saved key, when nothing else names one.
	os.Unsetenv("PLUGS_CONFIG")
	if err := os.WriteFile(filepath.Join(empty, devKeyFile), []byte(s.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := list("--server", s.addr); err != nil {
		t.Fatalf("plugs dev's key: %v", err)
	}
}

// -h prints each command's help and flags and is not an error for main.
func TestSourcesHelp(t *testing.T) {
	cases := []struct {
		cmd  func(context.Context, []string, io.Writer) error
		args []string
		want []string
	}{
		{runSources, []string{"-h"}, []string{"usage: plugs sources <command>", "create ", "delete "}},
		{runSources, []string{"list", "-h"}, []string{"usage: plugs sources list", "-page-size", "-api-key", "-config", "-o format"}},
		{runSources, []string{"get", "--help"}, []string{"usage: plugs sources get ID"}},
		{runSources, []string{"create", "-h"}, []string{"-secret-file", "PLUGS_SOURCE_SECRET", "-event-types", "-template"}},
		{runSources, []string{"delete", "-h"}, []string{"usage: plugs sources delete ID"}},
		{runDestinations, []string{"help"}, []string{"deliveries ", "dead-letters "}},
		{runDestinations, []string{"create", "-h"}, []string{"-shared-key-file", "-signature-style", "-sources"}},
		{runDestinations, []string{"deliveries", "-h"}, []string{"-limit", "-outcome"}},
		{runDestinations, []string{"dead-letters", "-h"}, []string{"usage: plugs destinations dead-letters ID"}},
		{runTemplates, []string{"list", "-h"}, []string{"usage: plugs templates list"}},
	}
	for _, c := range cases {
		out, err := run(c.cmd, c.args...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q help lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

func TestPublicSecretCell(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sns:us-east-1:123456789012:usage": "[arn:aws:sns:us-east-1:123456789012:usage]",
		"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQ\n-----END PUBLIC KEY-----\n": "[MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtUR...]",
	} {
		if got := publicCell(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
