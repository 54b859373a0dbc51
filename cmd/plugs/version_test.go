package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// plugs version prints the module version and the commit Go stamped in the
// binary; -X main.version overrides the version, not the commit.
func TestVersionFromBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/plugshq/plugs", Version: "v0.0.0-20261122100000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-22T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "plugs v0.0.0-20261122100000-0123456789ab+dirty (revision 0123456789ab, modified, 2026-11-22T10:00:00Z) go1.26.8"
	if got := readBuild(info, true).String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	defer func(v string) { version = v }(version)
	version = "1.4.0"
	if got := readBuild(info, true); got.version != "1.4.0" || !strings.Contains(got.String(), "revision 0123456789ab") {
		t.Errorf("-X main.version: %s", got)
	}

	// A build Go could not stamp (outside a checkout, -buildvcs=false).
	version = ""
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := readBuild(bare, true).String(); got != "plugs dev go1.26.8" {
		t.Errorf("unstamped: %s", got)
	}
	if got := readBuild(nil, false).String(); got != "plugs dev" {
		t.Errorf("no build info: %s", got)
	}
}

// plugs version and plugs --version print that line.
func TestVersionCommand(t *testing.T) {
	for _, name := range []string{"version", "--version"} {
		c, ok := lookup(name)
		if !ok {
			t.Fatalf("no command %s", name)
		}
		out, err := run(c.run)
		if err != nil || out != build.String()+"\n" || !strings.HasPrefix(out, "plugs ") {
			t.Fatalf("%s: %q %v", name, out, err)
		}
	}
}
