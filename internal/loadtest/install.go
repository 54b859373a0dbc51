package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PprofFlag is the flag a plugs command serving net/http/pprof on a
// loopback address would take. The harness passes it only to a binary whose
// -h lists it, and then fetches the data plane's CPU profile during the
// max-rate phases.
const PprofFlag = "pprof-addr"

// Installation is a running Plugs the harness drives.
type Installation struct {
	API *API
	// DataPlane is the process serving ingest (plugs dev runs all in one);
	// nil for an installation the harness did not start.
	DataPlane *Process
	// PprofURL is the base URL of the data plane's pprof handlers, empty
	// when it serves none.
	PprofURL string
	procs    []*Process // stopped last to first
}

// Stop stops every process the harness started, the last started first.
func (in *Installation) Stop() error {
	var errs []error
	for i := len(in.procs) - 1; i >= 0; i-- {
		errs = append(errs, in.procs[i].Stop(20*time.Second))
	}
	return errors.Join(errs...)
}

// StartDev runs `plugs dev` with its data under dir on free loopback ports
// and waits until its API answers with the bootstrap key and its data
// plane has a configuration.
func StartDev(ctx context.Context, bin, dir string, fsync bool) (*Installation, error) {
	grpcAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	ingestAddr, err3 := freeAddr()
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	args := []string{"dev", "--data-dir", dataDir, "--grpc-addr", grpcAddr, "--http-addr", httpAddr,
		"--ingest-addr", ingestAddr, "--nats-port", "-1"}
	if fsync {
		args = append(args, "--nats-fsync")
	}
	args = append(args, noAPILimit(bin, "dev")...)
	in := &Installation{API: &API{Base: "http://" + httpAddr, Ingest: "http://" + ingestAddr}}
	if supportsFlag(bin, "dev", PprofFlag) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--"+PprofFlag, addr)
		in.PprofURL = "http://" + addr + "/debug/pprof"
	}
	p, err := startProcess("plugs dev", bin, args, nil, filepath.Join(dir, "plugs-dev.log"))
	if err != nil {
		return nil, err
	}
	p.Discard()
	in.DataPlane, in.procs = p, []*Process{p}
	err = p.waitReady(ctx, "plugs dev API key", 90*time.Second, func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, "dev-api-key"))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		in.API.Key = strings.TrimSpace(string(b))
		return in.API.Key != "", err
	})
	if err == nil {
		err = in.waitServing(ctx, p)
	}
	if err != nil {
		_ = in.Stop()
		return nil, err
	}
	return in, nil
}

// waitServing waits until the REST API takes the key and the data plane
// has a configuration.
func (in *Installation) waitServing(ctx context.Context, p *Process) error {
	err := p.waitReady(ctx, "REST API", 60*time.Second, func() (bool, error) {
		err := in.API.call(ctx, "GET", "/v1/templates?page_size=1", nil, nil)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	return p.waitReady(ctx, "data plane configuration", 60*time.Second, func() (bool, error) {
		r, err := in.API.Ready(ctx)
		return r.Ready, err
	})
}

// Remote is a running installation the harness did not start: only its
// URLs and a key are known.
func Remote(apiURL, ingestURL, key, pprofURL string) *Installation {
	return &Installation{
		API:      &API{Base: strings.TrimSuffix(apiURL, "/"), Ingest: strings.TrimSuffix(ingestURL, "/"), Key: key},
		PprofURL: strings.TrimSuffix(pprofURL, "/"),
	}
}

// APILimitFlag bounds each API key's calls per second. The harness turns
// it off: creating thousands of sources is what it is for, and the limit
// protects a shared control plane from a runaway client, not this one.
const APILimitFlag = "api-rate-limit"

// noAPILimit is the argument turning the API rate limit off, for a binary
// that has one.
func noAPILimit(bin, cmd string) []string {
	if supportsFlag(bin, cmd, APILimitFlag) {
		return []string{"--" + APILimitFlag, "0"}
	}
	return nil
}

// supportsFlag reports whether `bin cmd -h` lists -flag.
func supportsFlag(bin, cmd, flag string) bool {
	out, _ := exec.Command(bin, cmd, "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+flag+" ")
}

// BuildPlugs builds ./cmd/plugs of the module in dir into out.
func BuildPlugs(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/plugs")
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: go build ./cmd/plugs: %w\n%s", ErrStart, err, b)
	}
	return nil
}
