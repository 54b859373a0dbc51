package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// Profiles are the CPU profiles taken during one phase: this process's
// (client, destination, bare handler) always, the data plane's when it
// serves pprof.
type Profiles struct {
	Harness, Plugs string
	// PlugsParts charges the data plane's CPU time to its parts;
	// PlugsTop is `go tool pprof -top` of its profile, the heaviest
	// functions by their own time.
	PlugsParts []Share
	PlugsTop   string
	// Wall is how long the profiles ran.
	Wall time.Duration
	Err  error
}

// profiler profiles this process, and fetches the data plane's profile
// over the same stretch when pprofURL is set.
type profiler struct {
	p    Profiles
	f    *os.File
	wg   sync.WaitGroup
	errs []error
	mu   sync.Mutex
}

// startProfile starts profiling a phase of about d; files are named
// prefix-harness.pprof and prefix-plugs.pprof.
func startProfile(ctx context.Context, prefix, pprofURL string, d time.Duration) *profiler {
	pr := &profiler{}
	f, err := os.Create(prefix + "-harness.pprof")
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		pr.errs = append(pr.errs, fmt.Errorf("harness profile: %w", err))
	} else {
		pr.f, pr.p.Harness = f, f.Name()
	}
	if pprofURL != "" {
		path := prefix + "-plugs.pprof"
		pr.wg.Go(func() {
			secs := max(int(d.Seconds()), 1)
			if err := fetch(ctx, fmt.Sprintf("%s/profile?seconds=%d", pprofURL, secs), path); err != nil {
				pr.mu.Lock()
				pr.errs = append(pr.errs, fmt.Errorf("plugs profile: %w", err))
				pr.mu.Unlock()
				return
			}
			pr.p.Plugs, pr.p.Wall = path, time.Duration(secs)*time.Second
			pr.p.PlugsTop = pprofTop(ctx, path)
			pr.p.PlugsParts = profileBreakdown(ctx, path)
		})
	}
	return pr
}

// stop ends the phase's profiles and returns what was taken.
func (pr *profiler) stop() Profiles {
	if pr.f != nil {
		pprof.StopCPUProfile()
		pr.f.Close()
	}
	pr.wg.Wait()
	pr.p.Err = errors.Join(pr.errs...)
	return pr.p
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop is the heaviest functions of a profile by their own time, as
// `go tool pprof` prints them; empty when the tool is not at hand.
func pprofTop(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=20", path).Output()
	if err != nil {
		return ""
	}
	// The lines before the table name the file and binary: noise here.
	text := string(out)
	if i := strings.Index(text, "      flat"); i >= 0 {
		text = text[i:]
	}
	return strings.TrimRight(text, "\n")
}

// heapTop is the functions that allocated the most memory still in use,
// as `go tool pprof` prints them; empty when the tool is not at hand.
func heapTop(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=12", path).Output()
	if err != nil {
		return ""
	}
	text := string(out)
	if i := strings.Index(text, "      flat"); i >= 0 {
		text = text[i:]
	}
	return strings.TrimRight(text, "\n")
}
