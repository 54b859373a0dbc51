package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The templates table names each provider and its docs; -o json has the
// whole templates.
func TestTemplatesList(t *testing.T) {
	clearClientEnv(t)
	s := startAPIServer(t)
	out, err := run(runTemplates, s.with("list", "--page-size", "5")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 10 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "PROVIDER") || !strings.Contains(lines[0], "DOCS") {
		t.Fatalf("table:\n%s", out)
	}
	var stripe string
	for _, l := range lines {
		if strings.HasPrefix(l, "stripe ") {
			stripe = l
		}
	}
	if !strings.Contains(stripe, "Stripe") || !strings.Contains(stripe, "https://") {
		t.Errorf("stripe line %q", stripe)
	}

	out, err = run(runTemplates, s.with("list", "-o", "json")...)
	var templates []struct {
		ID            string
		SamplePayload string
	}
	if err != nil || json.Unmarshal([]byte(out), &templates) != nil || len(templates) != len(lines)-1 {
		t.Fatalf("-o json: %v, %d templates for %d rows\n%.300s", err, len(templates), len(lines)-1, out)
	}
	if templates[0].ID == "" || templates[0].SamplePayload == "" {
		t.Errorf("first template %+v", templates[0])
	}

	out, err = run(runTemplates, s.with("list", "--category", "payments", "--search", "stri")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")[1:]
	if len(rows) == 0 {
		t.Fatalf("no payments template matches stri:\n%s", out)
	}
	for _, r := range rows {
		if !strings.Contains(r, " payments ") {
			t.Errorf("row %q is not a payments template", r)
		}
	}
	if !strings.HasPrefix(out, "ID") || !strings.Contains(out, "\nstripe ") {
		t.Errorf("stripe missing:\n%s", out)
	}
}
