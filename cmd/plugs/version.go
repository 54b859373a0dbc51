package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version overrides the module version Go stamps in the binary; set it at
// build time with -ldflags "-X main.version=…" (the Dockerfile does, from
// its VERSION argument).
var version string

// build is what this binary says of itself: the version it reports to the
// control plane and in traces, and the line plugs version prints.
var build = readBuild(debug.ReadBuildInfo())

// buildInfo is a binary's version and where it was built from.
type buildInfo struct {
	// version is -X main.version, else the module version (v1.2.0, or a
	// pseudo-version naming the commit), else "dev".
	version string
	// revision, time and modified are the VCS commit the binary was built
	// from, when Go could stamp it (a git checkout, -buildvcs not false).
	revision, time string
	modified       bool
	goVersion      string
}

func readBuild(info *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{version: version}
	if !ok {
		if b.version == "" {
			b.version = "dev"
		}
		return b
	}
	if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.version = info.Main.Version
	}
	if b.version == "" {
		b.version = "dev"
	}
	b.goVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// String is the line plugs version prints: "plugs v1.2.0 (revision
// 0123456789ab, 2026-11-22T10:00:00Z) go1.26.8".
func (b buildInfo) String() string {
	var s strings.Builder
	s.WriteString("plugs " + b.version)
	if b.revision != "" {
		rev := b.revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s.WriteString(" (revision " + rev)
		if b.modified {
			s.WriteString(", modified")
		}
		if b.time != "" {
			s.WriteString(", " + b.time)
		}
		s.WriteString(")")
	}
	if b.goVersion != "" {
		s.WriteString(" " + b.goVersion)
	}
	return s.String()
}

// runVersion is plugs version, and plugs --version.
func runVersion(_ context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("version", "", "Prints the version, the commit the binary was built from and the Go release.")
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, build)
	return err
}
