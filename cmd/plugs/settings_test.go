package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func settingsFlags() (*commandLine, *string, *int, *time.Duration, *string) {
	cl := newCommandLine("t", "[flags]", "")
	fs := cl.settings
	addr := fs.String("ingest-addr", ":8080", "listen address (PLUGS_INGEST_ADDR)")
	n := fs.Int("nats-replicas", 1, "replicas (PLUGS_NATS_REPLICAS)")
	d := fs.Duration("receipt-retention", time.Hour, "retention")
	hosts := fs.String("allow-http-hosts", "", "hosts")
	return cl, addr, n, d, hosts
}

func writeSettings(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plugs.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A flag beats the environment, which beats the file, which beats the
// default; lists in the file become comma-separated values.
func TestSettingsPrecedence(t *testing.T) {
	file := writeSettings(t, "ingest-addr: ':7000'\nnats-replicas: 3\nreceipt-retention: 48h\nallow-http-hosts: [a.test, b.test]\n")
	t.Setenv("PLUGS_NATS_REPLICAS", "5")
	fs, addr, n, d, hosts := settingsFlags()
	if err := fs.parse([]string{"--config", file, "--receipt-retention", "2h"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if *addr != ":7000" || *n != 5 || *d != 2*time.Hour || *hosts != "a.test,b.test" {
		t.Fatalf("addr %q replicas %d retention %s hosts %q", *addr, *n, *d, *hosts)
	}

	// PLUGS_CONFIG names the file when --config is not given.
	t.Setenv("PLUGS_CONFIG", file)
	fs, addr, _, _, _ = settingsFlags()
	if err := fs.parse(nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if *addr != ":7000" {
		t.Fatalf("PLUGS_CONFIG not read: addr %q", *addr)
	}
}

// Every problem is reported at once, naming where it came from.
func TestSettingsReportEveryProblem(t *testing.T) {
	file := writeSettings(t, "nats-replicas: many\nreceipt-retention: 3 weeks\nno-such-flag: 1\n")
	t.Setenv("PLUGS_INGEST_ADDR", ":9999") // fine
	fs, _, _, _, _ := settingsFlags()
	err := fs.parse([]string{"--config", file}, io.Discard)
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	msg := err.Error()
	for _, want := range []string{"nats-replicas", "receipt-retention", `unknown setting "no-such-flag"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Count(msg, "\n") != 3 {
		t.Errorf("want one line per problem:\n%s", msg)
	}

	t.Setenv("PLUGS_NATS_REPLICAS", "x")
	fs, _, _, _, _ = settingsFlags()
	err = fs.parse(nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `PLUGS_NATS_REPLICAS="x"`) {
		t.Fatalf("bad environment value: %v", err)
	}
	if _, err := readSettingsFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("a missing settings file is not an error")
	}
}
