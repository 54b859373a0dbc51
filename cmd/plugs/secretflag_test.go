package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// A secret flag takes its default from the environment, is set like any
// flag and by parseSettings, and -h never prints its value.
func TestSecretFlagNeverShown(t *testing.T) {
	t.Setenv("PLUGS_DATAPLANE_TOKEN", "pdp_from_the_environment")
	var f dpFlags
	fs := flag.NewFlagSet("plugs dataplane", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	f.register(fs, ":8080", false)
	if err := parseSettings(fs, []string{"-h"}); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	if strings.Contains(help.String(), "pdp_from_the_environment") {
		t.Fatalf("-h shows the token:\n%s", help.String())
	}
	fs = flag.NewFlagSet("plugs dataplane", flag.ContinueOnError)
	f = dpFlags{}
	f.register(fs, ":8080", false)
	if err := parseSettings(fs, nil); err != nil || f.token != "pdp_from_the_environment" {
		t.Fatalf("from the environment: %q, %v", f.token, err)
	}
	if err := fs.Set("dataplane-token", "pdp_given"); err != nil || f.token != "pdp_given" {
		t.Fatalf("set: %q, %v", f.token, err)
	}
}
