// Command plugs-load is Plugs' performance harness: it starts `plugs dev`
// in each durability mode (or targets a running installation), sends signed
// webhooks at the highest rate it can and at fixed rates, compares the
// throughput with a bare HMAC-checking handler, checks that every accepted
// event reached a destination exactly once and how long it took to get
// there, measures a data plane that only receives (another one
// forwarding), the data plane's memory and throughput with many sources and the backbone's memory per remembered event
// id, and writes a markdown report. `make bench` runs it after the Go
// benchmarks, whose output it includes (--micro).
//
//	plugs-load --plugs bin/plugs --report bench-report.md
//	plugs-load --quick                      # a short run while developing
//	plugs-load --target-api http://127.0.0.1:8081 --target-ingest http://127.0.0.1:8080 --api-key plg_…
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plugshq/plugs/internal/loadtest"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == loadtest.BackboneCommand {
		err = runBackbone(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plugs-load:", err)
		os.Exit(1)
	}
}

// runBackbone is the child the harness runs itself as: an embedded NATS
// server alone in its process.
func runBackbone(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugs-load "+loadtest.BackboneCommand, flag.ContinueOnError)
	dir := fs.String("dir", "", "store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	return loadtest.ServeBackbone(ctx, *dir, os.Stdout)
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugs-load", flag.ContinueOnError)
	plugs := fs.String("plugs", "", "plugs binary to start; empty builds ./cmd/plugs into the work directory")
	report := fs.String("report", "bench-report.md", "markdown report to write")
	var micro listFlag
	fs.Var(&micro, "micro", "output of go test -bench to include in the report (repeatable)")
	modes := fs.String("modes", "default,fsync", "durability modes to start plugs dev in")
	workers := fs.Int("workers", 32, "concurrent requests of the max-rate phases")
	openWorkers := fs.Int("open-workers", 64, "most requests under way at once in fixed-rate phases")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up before measuring")
	duration := fs.Duration("duration", 10*time.Second, "length of each max-rate phase")
	openDuration := fs.Duration("open-duration", 10*time.Second, "length of each fixed-rate phase")
	fractions := fs.String("fractions", "0.5", "fixed-rate phases as fractions of the measured maximum (0.5 is judged against the p99 target)")
	rates := fs.String("rates", "", "extra fixed-rate phases, in requests per second, comma-separated")
	quiet := fs.Duration("quiet", 15*time.Second, "how long to wait for a missing delivery before calling it lost")
	sources := fs.Int("sources", 10_000, "sources of the data-plane memory measurement; 0 skips it")
	createWorkers := fs.Int("create-workers", 8, "sources created at once")
	memoryDuration := fs.Duration("memory-duration", 5*time.Second, "load phase of the data-plane memory measurement")
	memoryLimit := fs.String("dataplane-memory-limit", "120MiB",
		"the data plane's --memory-limit in the memory measurement: 80% of the 150 MB budget, as auto takes 80% of a container's limit; empty for its default")
	skipOneSource := fs.Bool("skip-one-source", false, "leave out the one-source phase the many-source throughput is compared with")
	skipRoles := fs.Bool("skip-roles", false, "leave out the receive-role data plane (separate receive and forward processes)")
	backboneIDs := fs.Int("backbone-ids", 1_000_000, "event ids of the backbone memory measurement; 0 skips it")
	backboneWriters := fs.Int("backbone-writers", 64, "concurrent writers of the backbone measurement")
	backboneSettle := fs.Duration("backbone-settle", 12*time.Second, "idle time before the backbone's last memory reading")
	profile := fs.String("profile", "", "write CPU profiles of the max-rate phases to this directory (the data plane's too, if it serves pprof); empty writes them under the work directory, for the CPU per webhook")
	workDir := fs.String("dir", "", "work directory for data and logs; empty makes a temporary one, removed unless the run fails or --keep")
	keep := fs.Bool("keep", false, "keep the work directory")
	targetAPI := fs.String("target-api", "", "REST base URL of a running installation to measure instead of starting plugs dev")
	targetIngest := fs.String("target-ingest", "", "ingest base URL of that installation")
	targetPprof := fs.String("target-pprof", "", "pprof base URL (…/debug/pprof) of that installation's data plane, if it serves one")
	apiKey := fs.String("api-key", os.Getenv("PLUGS_API_KEY"), "API key for --target-api (PLUGS_API_KEY)")
	quick := fs.Bool("quick", false, "a short run while developing: 2 s phases, 500 sources, 50,000 event ids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quick {
		// Short defaults; flags given explicitly keep their values.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"warmup": "1s", "duration": "2s", "open-duration": "2s", "quiet": "5s",
			"sources": "500", "memory-duration": "2s", "backbone-ids": "50000", "backbone-settle": "1s"} {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	fracs, err := floats(*fractions)
	if err != nil {
		return fmt.Errorf("--fractions: %w", err)
	}
	extra, err := floats(*rates)
	if err != nil {
		return fmt.Errorf("--rates: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	dir := *workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "plugs-load-"); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if *profile == "" {
		*profile = filepath.Join(dir, "profiles")
	}
	{
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
		if *profile, err = filepath.Abs(*profile); err != nil {
			return err
		}
	}
	log := slog.Default()
	log.Info("work directory", "dir", dir)

	cfg := loadtest.Config{
		EndToEnd: loadtest.EndToEndConfig{
			Bin: *plugs, Dir: dir, Workers: *workers, OpenWorkers: *openWorkers,
			Warmup: *warmup, Duration: *duration, OpenDuration: *openDuration,
			Fractions: fracs, Rates: extra, Quiet: *quiet, ProfileDir: *profile, Log: log,
		},
		Modes: splitList(*modes), Self: self,
		Sources: *sources, CreateWorkers: *createWorkers, MemoryDuration: *memoryDuration, MemoryLimit: *memoryLimit,
		SkipOneSource: *skipOneSource, SkipRoles: *skipRoles,
		BackboneIDs: *backboneIDs, BackboneWriters: *backboneWriters, BackboneSettle: *backboneSettle,
		Log: log,
	}
	if *targetAPI != "" || *targetIngest != "" {
		if *targetAPI == "" || *targetIngest == "" || *apiKey == "" {
			return errors.New("--target-api, --target-ingest and --api-key go together")
		}
		cfg.EndToEnd.Remote = loadtest.Remote(*targetAPI, *targetIngest, *apiKey, *targetPprof)
	}
	needPlugs := cfg.EndToEnd.Remote == nil && (len(cfg.Modes) > 0 || *sources > 0 || !*skipRoles)
	if cfg.EndToEnd.Bin == "" && needPlugs {
		cfg.EndToEnd.Bin = filepath.Join(dir, "plugs")
		log.Info("building ./cmd/plugs", "out", cfg.EndToEnd.Bin)
		if err := loadtest.BuildPlugs(ctx, ".", cfg.EndToEnd.Bin); err != nil {
			return err
		}
	} else if cfg.EndToEnd.Bin != "" {
		if cfg.EndToEnd.Bin, err = filepath.Abs(cfg.EndToEnd.Bin); err != nil {
			return err
		}
	}

	var benches []loadtest.Micro
	for _, path := range micro {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--micro: %w", err)
		}
		ms, err := loadtest.ParseMicro(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--micro %s: %w", path, err)
		}
		benches = append(benches, ms...)
	}

	res := loadtest.RunAll(ctx, cfg)

	out, err := os.Create(*report)
	if err != nil {
		return err
	}
	command := "plugs-load " + strings.Join(args, " ")
	if c := os.Getenv("PLUGS_BENCH_COMMAND"); c != "" {
		command = c
	}
	if err := loadtest.WriteReport(out, loadtest.Report{Results: res, Micro: benches, Command: command}); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	abs, _ := filepath.Abs(*report)
	fmt.Println("report written to", abs)
	if len(res.Errors) > 0 {
		fmt.Println("logs kept in", dir)
		return fmt.Errorf("%d measurement(s) failed: %s", len(res.Errors), strings.Join(res.Errors, "; "))
	}
	if *workDir == "" && !*keep {
		_ = os.RemoveAll(dir)
	}
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// splitList reads a comma-separated list, skipping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// floats reads a comma-separated list of numbers.
func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
