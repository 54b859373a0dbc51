package main

import (
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
)

// helpFlag is one flag of a command's help and the section it is in.
type helpFlag struct {
	name, section, usage string
}

// commandHelps runs -h on every command and on each command of those that
// have commands (plugs sources create, …), and returns each help by its
// command line.
func commandHelps(t *testing.T) map[string]string {
	t.Helper()
	helps := map[string]string{}
	verbLine := regexp.MustCompile(`^  ([a-z][a-z-]*)\s{2,}`)
	for _, c := range commands() {
		out, err := run(c.run, "-h")
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("plugs %s -h: %v\n%s", c.name, err, out)
		}
		if !strings.Contains(out, "\ncommands:\n") {
			helps[c.name] = out
			continue
		}
		inList := false
		for _, line := range strings.Split(out, "\n") {
			if line == "commands:" {
				inList = true
				continue
			}
			m := verbLine.FindStringSubmatch(line)
			if !inList || m == nil {
				inList = inList && line != ""
				continue
			}
			vout, err := run(c.run, m[1], "-h")
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("plugs %s %s -h: %v\n%s", c.name, m[1], err, vout)
			}
			helps[c.name+" "+m[1]] = vout
		}
	}
	return helps
}

// helpFlags reads the flags of a help, with the section title each is
// under.
func helpFlags(t *testing.T, help string) []helpFlag {
	t.Helper()
	var out []helpFlag
	section := ""
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	for _, line := range strings.Split(help, "\n") {
		switch m := flagLine.FindStringSubmatch(line); {
		case m != nil:
			out = append(out, helpFlag{name: m[1], section: section})
		case strings.HasPrefix(line, "    ") && len(out) > 0:
			out[len(out)-1].usage += strings.TrimSpace(line) + " "
		case line != "" && !strings.HasPrefix(line, " "):
			section = line
		}
	}
	return out
}

// Every flag a PLUGS_* variable or the --config file can set names its
// variable in -h: the settings of every command. A command's own flags,
// which come from the command line only, are listed apart under a title
// that says so. No flag is listed anywhere else.
func TestEveryFlagNamesItsVariable(t *testing.T) {
	clearClientEnv(t)
	helps := commandHelps(t)
	for _, want := range []string{"dev", "controlplane", "dataplane", "tokens create", "keys rotate", "keys generate",
		"sources create", "destinations deliveries", "receipts tail", "send-test", "sign", "templates list", "version"} {
		if _, ok := helps[want]; !ok {
			t.Errorf("no help for plugs %s", want)
		}
	}
	for cmd, help := range helps {
		flags := helpFlags(t, help)
		for _, f := range flags {
			switch f.section {
			case settingsTitle:
				if !envInUsage.MatchString(f.usage) {
					t.Errorf("plugs %s -%s names no PLUGS_* variable: %s", cmd, f.name, f.usage)
				}
			case ownFlagsTitle:
			default:
				t.Errorf("plugs %s -%s is under %q", cmd, f.name, f.section)
			}
		}
	}
	// The serving commands take nothing from the command line alone.
	for _, cmd := range []string{"dev", "controlplane", "dataplane"} {
		if strings.Contains(helps[cmd], ownFlagsTitle) {
			t.Errorf("plugs %s has flags that are not settings:\n%s", cmd, helps[cmd])
		}
	}
}

// The operator commands list what they use: the database and the master
// key, not the server's listeners, tokens and limits.
func TestOperatorCommandsListTheirFlagsOnly(t *testing.T) {
	helps := commandHelps(t)
	for _, cmd := range []string{"tokens create", "keys rotate", "keys generate"} {
		for _, f := range helpFlags(t, helps[cmd]) {
			switch f.name {
			case "grpc-addr", "http-addr", "public-url", "dataplane-token", "receipt-retention", "allow-http-hosts",
				"api-rate-limit", "api-rate-limit-burst":
				t.Errorf("plugs %s lists the server's --%s", cmd, f.name)
			}
		}
	}
	if !strings.Contains(helps["keys rotate"], "-master-key-file") || !strings.Contains(helps["tokens create"], "-database-url") {
		t.Errorf("operator commands lack their database flags:\n%s\n%s", helps["keys rotate"], helps["tokens create"])
	}
	if flags := helpFlags(t, helps["keys generate"]); len(flags) != 0 {
		t.Errorf("plugs keys generate takes flags: %v", flags)
	}
}
