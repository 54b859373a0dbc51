package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// apiFlags reach a control plane's API as a tenant, by default the one
// plugs dev runs, with the key it saved.
type apiFlags struct {
	server, apiKey, dataDir string
	tls                     clientTLSFlags
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", envOr("PLUGS_SERVER", "127.0.0.1:9090"), "control plane gRPC address (PLUGS_SERVER)")
	// No environment default here: -h would print the key.
	fs.StringVar(&f.apiKey, "api-key", "",
		"API key of the tenant; default the key plugs dev saved under --data-dir (PLUGS_API_KEY)")
	fs.StringVar(&f.dataDir, "data-dir", envOr("PLUGS_DATA_DIR", "./.plugs"), "plugs dev's data directory, for its saved API key (PLUGS_DATA_DIR)")
	f.tls.register(fs, false)
}

// dial connects to the control plane and returns ctx carrying the API key:
// --api-key, else PLUGS_API_KEY, else the key plugs dev saved.
func (f *apiFlags) dial(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	key := cmp.Or(f.apiKey, os.Getenv("PLUGS_API_KEY"))
	if key == "" {
		path := filepath.Join(f.dataDir, devKeyFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, usageErr("give --api-key, PLUGS_API_KEY or api-key in a --config file (there is no plugs dev key at %s)", path)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read the plugs dev API key: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	creds, err := f.tls.credentials()
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(f.server, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, nil, fmt.Errorf("dial the control plane at %s: %w", f.server, err)
	}
	return conn, metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), nil
}

// clientCmd is the command line of a command for people that calls the
// control plane's API (plugs sources get ID, …): its own flags (fs), the
// connection settings and the output format.
type clientCmd struct {
	*commandLine
	fs  *flag.FlagSet // the command's own flags
	api apiFlags
	out outputFormat
}

// newClientCmd starts the command line of "plugs <name>"; synopsis is what
// follows the name in the help's usage line, doc what the command does.
// The command adds its own flags to fs.
func newClientCmd(name, synopsis, doc string) *clientCmd {
	c := &clientCmd{commandLine: newCommandLine(name, synopsis, doc)}
	c.fs = c.own
	c.api.register(c.settings)
	c.out.register(c.fs)
	return c
}

// dial connects to the control plane; see apiFlags.dial.
func (c *clientCmd) dial(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	return c.api.dial(ctx)
}

// verb is one subcommand of a resource command: the list of plugs sources
// list.
type verb struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

// runVerbs runs the verb args[0] of "plugs <resource>".
func runVerbs(ctx context.Context, resource string, verbs []verb, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		for _, v := range verbs {
			if v.name == args[0] {
				return v.run(ctx, args[1:], stdout)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "plugs %s <command> [flags]\n\ncommands:\n", resource)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %-13s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(&b, "\nRun 'plugs %s <command> -h' for the flags of a command.\n", resource)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprint(stdout, "usage: "+b.String())
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usageErr("%s", b.String())
	}
	return usageErr("unknown command %q\n\n%s", args[0], b.String())
}

// callOne dials the control plane, makes one call and prints its answer
// as one resource, with fields for the table.
func callOne[T proto.Message](ctx context.Context, c *clientCmd, stdout io.Writer,
	call func(context.Context, *grpc.ClientConn) (T, error), fields func(T) []field,
) error {
	conn, ctx, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	m, err := call(ctx, conn)
	if err != nil {
		return apiErr(err)
	}
	return printOne(stdout, c.out, m, fields(m))
}

// callList dials the control plane, gathers a list page by page (see
// listAll) and prints it under header, a row per item.
func callList[T proto.Message](ctx context.Context, c *clientCmd, stdout io.Writer, limit int,
	page func(ctx context.Context, conn *grpc.ClientConn, token string) ([]T, string, error),
	header []string, row func(T) []string,
) error {
	conn, ctx, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	items, err := listAll(limit, func(token string) ([]T, string, error) { return page(ctx, conn, token) })
	if err != nil {
		return err
	}
	return printList(stdout, c.out, items, header, row)
}

// listAll gathers a paginated list page by page, until the last page or
// until limit items (0: no limit). page makes one call with a page token.
func listAll[T any](limit int, page func(token string) ([]T, string, error)) ([]T, error) {
	var all []T
	token := ""
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, apiErr(err)
		}
		all = append(all, items...)
		if limit > 0 && len(all) >= limit {
			return all[:limit], nil
		}
		if next == "" {
			return all, nil
		}
		token = next
	}
}

// pageSize adds --page-size, the items a list asks for per call.
func (c *clientCmd) pageSize() *int {
	return c.fs.Int("page-size", 100, "items asked for per call; the command follows every page (the server caps a page at 1000)")
}

// secretFlag is a secret given as --NAME, in the file --NAME-file names,
// or in an environment variable: the flag shows in ps and shell history,
// the other two do not.
type secretFlag struct {
	name, env   string
	value, file string
}

// secret adds --name and --name-file; what says what the secret is for.
func (c *clientCmd) secret(name, env, what string) *secretFlag {
	s := &secretFlag{name: name, env: env}
	c.fs.StringVar(&s.value, name, "", what+"; visible to other users in ps, so prefer --"+name+"-file or "+env)
	c.fs.StringVar(&s.file, name+"-file", "", "file holding the "+name+" (a trailing newline is not part of it)")
	return s
}

// get returns the secret, or "" when none was given anywhere.
func (s *secretFlag) get() (string, error) {
	switch {
	case s.value != "" && s.file != "":
		return "", usageErr("give --%s or --%s-file, not both", s.name, s.name)
	case s.value != "":
		return s.value, nil
	case s.file != "":
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("--%s-file: %w", s.name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return os.Getenv(s.env), nil
}
