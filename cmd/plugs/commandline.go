package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Section titles of a command's help; help_test reads them back.
const (
	ownFlagsTitle = "flags (from the command line only):"
	settingsTitle = "settings (a flag, else the PLUGS_* variable it names, else the --config file):"
)

// commandLine is the command line of a plugs command: its help and two
// kinds of flags, both of which may come before or after its arguments.
// Settings (how to listen, where the control plane is, which key to use)
// are also read from the PLUGS_* variable each names in its help and from
// a YAML file given with --config (see fillSettings). A command's own
// flags (what to create, which source to follow) come from the command
// line alone, so that a PLUGS_NAME or PLUGS_URL left in a shell never
// names a new resource or changes what one call does.
type commandLine struct {
	name          string // "plugs sources create"
	synopsis, doc string
	own           *flag.FlagSet
	settings      *flag.FlagSet
	config        string
	args          []string
}

// newCommandLine starts the command line of "plugs <name>"; synopsis is
// what follows the name in the help's usage line, doc what the command
// does. The command then adds its flags to own and settings.
func newCommandLine(name, synopsis, doc string) *commandLine {
	c := &commandLine{
		name: "plugs " + name, synopsis: synopsis, doc: doc,
		own:      quietFlagSet("plugs " + name),
		settings: quietFlagSet("plugs " + name),
	}
	return c
}

// quietFlagSet is a flag set that prints nothing itself: parse prints the
// help when it is asked for, and main prints errors.
func quietFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// all is one flag set of every flag, own and settings, with --config when
// there are settings.
func (c *commandLine) all() *flag.FlagSet {
	if c.settings.Lookup(configFlag) == nil && hasFlags(c.settings) {
		c.settings.StringVar(&c.config, configFlag, "", "YAML file of the settings below, keyed by flag name (PLUGS_CONFIG)")
	}
	fs := quietFlagSet(c.name)
	for _, set := range []*flag.FlagSet{c.own, c.settings} {
		set.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse reads args: flags anywhere, then exactly the positional arguments
// named (ID, …); settings not given are then filled from the environment
// and the --config file. -h prints the help to help and returns
// flag.ErrHelp.
func (c *commandLine) parse(args []string, help io.Writer, positional ...string) error {
	fs := c.all()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(help)
				return err
			}
			return usageErr("%v (see %s -h)", err, c.name)
		}
		consumed := len(args) - fs.NArg()
		if fs.NArg() == 0 || (consumed > 0 && args[consumed-1] == "--") {
			c.args = append(c.args, fs.Args()...)
			break
		}
		c.args = append(c.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(c.args) != len(positional) {
		if len(positional) == 0 {
			return usageErr("%s takes no arguments, got %q", c.name, c.args)
		}
		return usageErr("%s needs %s (see -h)", c.name, strings.Join(positional, " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return fillSettings(c.settings, given, c.config)
}

// printHelp writes the usage line, what the command does and its flags, the
// command's own apart from the settings.
func (c *commandLine) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: %s %s\n", c.name, c.synopsis)
	if doc := strings.TrimSpace(c.doc); doc != "" {
		fmt.Fprintf(w, "\n%s\n", doc)
	}
	for _, g := range []struct {
		title string
		fs    *flag.FlagSet
	}{{ownFlagsTitle, c.own}, {settingsTitle, c.settings}} {
		if !hasFlags(g.fs) {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", g.title)
		g.fs.SetOutput(w)
		g.fs.PrintDefaults()
		g.fs.SetOutput(io.Discard)
	}
}
