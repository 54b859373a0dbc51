// Command plugs is the single Plugs binary: `plugs dev` runs everything in
// one process; `controlplane` and `dataplane` run the two planes apart; the
// other subcommands are for operators.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/plugshq/plugs/internal/logging"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run control plane, data plane and embedded NATS in one process (SQLite under ./.plugs)", runDev},
		{"controlplane", "run the control plane (gRPC + REST)", runControlPlane},
		{"dataplane", "run a data plane that takes its configuration from a control plane", runDataPlane},
		{"tokens", "create credentials: tokens create --tenant NAME or --dataplane --name NAME (operator), or --server/--api-key", runTokens},
		{"sign", "print a curl command sending a body signed as a template's provider signs it", runSign},
		{"send-test", "send a source's sample event through the ingest endpoint and print its receipt", runSendTest},
		{"receipts", "receipts tail --source ID: follow a source's receipts as they arrive", runReceipts},
		{"listen", "listen --source ID --forward-to URL: post webhooks to a local URL as they are accepted", runListen},
		{"sources", "sources list | get ID | create | delete ID: the tenant's webhook sources", runSources},
		{"destinations", "destinations list | get ID | create | delete ID | deliveries ID | dead-letters ID", runDestinations},
		{"templates", "templates list: the provider templates sources start from", runTemplates},
		{"keys", "master keys: keys generate | keys rotate (re-encrypt every secret under the newest key)", runKeys},
		{"dataplanes", "list data planes with node names, builds and rejections, from the database (operator)", runDataPlanes},
		{"version", "print the version and the commit it was built from (also --version)", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plugs <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nsources, destinations, templates, send-test, receipts and listen call a control plane's gRPC API\n"+
		"(--server, default 127.0.0.1:9090) with an API key from --api-key, PLUGS_API_KEY or the one\n"+
		"plugs dev saved in .plugs/dev-api-key; sources, destinations and templates also read it from a\n"+
		"--config file, and print the API's JSON with -o json.")
	fmt.Fprintln(w, "\nRun 'plugs <command> -h' for the flags of a command.")
}

func main() {
	slog.SetDefault(slog.New(logging.NewHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(os.Stdout)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c, ok := lookup(os.Args[1]); ok {
		err := c.run(ctx, os.Args[2:], os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "plugs "+c.name+":", err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "plugs: unknown command %q\n\n", os.Args[1])
	usage(os.Stderr)
	os.Exit(2)
}

// lookup finds the command named name; --version is the version command.
func lookup(name string) (command, bool) {
	if name == "--version" || name == "-version" {
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// envOr returns the environment variable name, or def when it is unset.
// envDuration is envOr for durations; a value that does not parse is the
// default.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// envFloat is envOr for numbers; a value that does not parse is the
// default.
func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

// envInt is envOr for integers; a value that does not parse is the default.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
