package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// create → list shows it → get → delete → get answers NOT_FOUND.
func TestDestinationsLifecycle(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	out, err := run(runSources, s.with("create", "--name", "src", "--template", "stripe", "--secret", "whsec_0123456789abcdefghijklmnop", "-o", "json")...)
	var src struct{ ID string }
	if err != nil || json.Unmarshal([]byte(out), &src) != nil {
		t.Fatalf("source: %v\n%s", err, out)
	}
	keyFile := writeFile(t, "key", "0123456789abcdef-shared\n")

	out, err = run(runDestinations, s.with("create", "--name", "billing", "--url", "https://billing.example.com/usage",
		"--shared-key-file", keyFile, "--signature-style", "hub", "--sources", src.ID)...)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	id := tableValue(t, out, "id")
	for name, want := range map[string]string{"url": "https://billing.example.com/usage", "signature": "hub (X-Hub-Signature-256)",
		"sources": src.ID, "status": "active"} {
		if got := tableValue(t, out, name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix(tableValue(t, out, "shared key"), "sha256:") || strings.Contains(out, "0123456789abcdef-shared") {
		t.Errorf("shared key line:\n%s", out)
	}

	t.Setenv("PLUGS_SHARED_KEY", "another-key-0123456789")
	out, err = run(runDestinations, s.with("create", "--name", "all", "--url", "https://all.example.com/", "-o", "json")...)
	var second map[string]any
	if err != nil || json.Unmarshal([]byte(out), &second) != nil || second["signatureStyle"] != "SIGNATURE_STYLE_STANDARD_WEBHOOKS" {
		t.Fatalf("create -o json: %v\n%s", err, out)
	}

	out, err = run(runDestinations, s.with("list", "--page-size", "1")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != id+" billing https://billing.example.com/usage hub active "+src.ID ||
		!strings.HasSuffix(strings.Join(strings.Fields(lines[2]), " "), "https://all.example.com/ standard_webhooks active all") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run(runDestinations, s.with("list", "-o", "json")...)
	var listed []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}

	out, err = run(runDestinations, s.with("get", id, "-o", "json")...)
	var got map[string]any
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got["id"] != id || got["sharedKey"] != nil {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}

	// No attempt yet: the header alone, or an empty array.
	out, err = run(runDestinations, s.with("deliveries", id)...)
	if err != nil || !strings.HasPrefix(out, "TIME ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("deliveries: %v\n%s", err, out)
	}
	if out, err = run(runDestinations, s.with("deliveries", id, "-o", "json")...); err != nil || out != "[]\n" {
		t.Fatalf("deliveries -o json: %v\n%q", err, out)
	}
	// This control plane has no backbone to read dead letters from.
	_, err = run(runDestinations, s.with("dead-letters", id)...)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "(FAILED_PRECONDITION)") {
		t.Fatalf("dead-letters without a backbone: %v", err)
	}

	if out, err = run(runDestinations, s.with("delete", id)...); err != nil || !strings.Contains(out, "deleted  destination "+id) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err = run(runDestinations, s.with("get", id)...); status.Code(err) != codes.NotFound {
		t.Fatalf("get after delete: %v", err)
	}
}

// A refused create names the fields; a bad flag value is refused before
// any call.
func TestDestinationsValidationError(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	_, err := run(runDestinations, s.with("create", "--name", "x", "--url", "http://billing.example.com/", "--shared-key", "short",
		"--sources", "not-a-uuid")...)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("want INVALID_ARGUMENT, got %v", err)
	}
	for _, want := range []string{"\n  destination.url: must use https://", "\n  destination.shared_key: ", "\n  destination.source_ids[0]: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	for _, args := range [][]string{
		{"create", "--name", "x", "--url", "https://a.example.com/", "--shared-key", "0123456789abcdef", "--signature-style", "rsa"},
		{"create", "--url", "https://a.example.com/"},
		{"deliveries", "id", "--outcome", "lost"},
		{"deliveries"},
		{"dead-letters"},
	} {
		if _, err := run(runDestinations, s.with(args...)...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// Against plugs dev, with the key it saved: a delivered event shows in
// one destination's delivery log, a refused one in another's dead letters.
func TestDestinationsDeliveriesAndDeadLetters(t *testing.T) {
	clearClientEnv(t)
	d := startDev(t)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer ok.Close()
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unknown customer", http.StatusBadRequest)
	}))
	defer refuse.Close()
	conn := []string{"--server", d.grpcAddr, "--data-dir", d.dataDir}
	create := func(name, url string) string {
		t.Helper()
		out, err := run(runDestinations, append([]string{"create", "--name", name, "--url", url, "--shared-key", "0123456789abcdef0123"}, conn...)...)
		if err != nil {
			t.Fatalf("create %s: %v\n%s", name, err, out)
		}
		return tableValue(t, out, "id")
	}
	// Destinations first: the snapshot that brings the source brings them.
	okID, refuseID := create("ok", ok.URL), create("refuse", refuse.URL)
	src := d.source(t, &plugsv1.Source{DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop"})
	if out, err := d.sendTest(t, src); err != nil {
		t.Fatalf("send-test: %v\n%s", err, out)
	}

	// poll runs a command until its output has want.
	poll := func(args []string, want string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := run(runDestinations, append(args, conn...)...)
			if err == nil && strings.Contains(out, want) {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q never printed %q: %v\n%s", args, want, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	out := poll([]string{"deliveries", okID}, " delivered ")
	row := strings.Split(strings.TrimSpace(out), "\n")[1]
	if f := strings.Fields(row); len(f) < 7 || f[1] != "1" || f[2] != "204" || f[4] != "delivered" || !strings.HasPrefix(f[5], "evt_test_") {
		t.Errorf("delivery row %q", row)
	}
	out = poll([]string{"dead-letters", refuseID}, " rejected ")
	row = strings.Split(strings.TrimSpace(out), "\n")[1]
	if f := strings.Fields(row); len(f) < 8 || f[2] != "1" || f[3] != "400" || !strings.Contains(row, "unknown customer") {
		t.Errorf("dead letter row %q", row)
	}
	out = poll([]string{"deliveries", refuseID, "--outcome", "dead_lettered", "-o", "json"}, "OUTCOME_DEAD_LETTERED")
	var attempts []map[string]any
	if err := json.Unmarshal([]byte(out), &attempts); err != nil || len(attempts) != 1 || attempts[0]["statusCode"] != float64(400) {
		t.Errorf("deliveries -o json: %v\n%s", err, out)
	}
}
