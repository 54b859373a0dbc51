package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
)

// A secret flag takes its default from the environment, is set like any
// flag and from its variable, and -h never prints its value.
func TestSecretFlagNeverShown(t *testing.T) {
	t.Setenv("PLUGS_DATAPLANE_TOKEN", "pdp_from_the_environment")
	var f dpFlags
	cl := newCommandLine("dataplane", "[flags]", "")
	var help bytes.Buffer
	f.register(cl.settings, ":8080", false)
	if err := cl.parse([]string{"-h"}, &help); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
	if strings.Contains(help.String(), "pdp_from_the_environment") {
		t.Fatalf("-h shows the token:\n%s", help.String())
	}
	cl = newCommandLine("dataplane", "[flags]", "")
	f = dpFlags{}
	f.register(cl.settings, ":8080", false)
	if err := cl.parse(nil, io.Discard); err != nil || f.token != "pdp_from_the_environment" {
		t.Fatalf("from the environment: %q, %v", f.token, err)
	}
	if err := cl.settings.Set("dataplane-token", "pdp_given"); err != nil || f.token != "pdp_given" {
		t.Fatalf("set: %q, %v", f.token, err)
	}
}
