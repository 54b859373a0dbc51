package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Split is an installation run as production runs it: a backbone, `plugs
// controlplane` and `plugs dataplane` each in its own process, so the data
// plane's memory is its own. Its data planes are started and stopped
// apart (StartDataPlane), so one can be measured empty and another with
// every source loaded.
type Split struct {
	Installation
	bin, dir, cpGRPC, token, natsURL string
	ingestAddr                       string
	pprof                            bool
	// MemoryLimit, when set, is the data planes' --memory-limit.
	MemoryLimit string
}

// StartSplit runs a backbone child (self is this harness's binary) and a
// control plane with its data under dir, and makes a tenant and its key.
func StartSplit(ctx context.Context, bin, self, dir string) (*Split, error) {
	s := &Split{bin: bin, dir: dir}
	bb, err := StartBackbone(self, filepath.Join(dir, "nats"), filepath.Join(dir, "backbone.log"))
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, bb.Proc)
	s.natsURL = bb.URL
	if err := s.startControlPlane(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Split) startControlPlane(ctx context.Context) error {
	dataDir := filepath.Join(s.dir, "controlplane")
	key, err := s.plugs(ctx, "keys", "generate")
	if err != nil {
		return err
	}
	env := []string{"PLUGS_MASTER_KEY=" + key}
	out, err := s.plugsEnv(ctx, env, "tokens", "create", "--tenant", "load", "--name", "load", "--data-dir", dataDir)
	if err != nil {
		return err
	}
	lines := strings.Split(out, "\n")
	apiKey := strings.TrimSpace(lines[len(lines)-1])
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	s.token = "dp_load_" + hex.EncodeToString(tok)
	grpcAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	ingestAddr, err3 := freeAddr()
	if err := firstErr(err1, err2, err3); err != nil {
		return err
	}
	s.cpGRPC, s.ingestAddr = grpcAddr, ingestAddr
	s.API = &API{Base: "http://" + httpAddr, Ingest: "http://" + ingestAddr, Key: apiKey}
	args := append([]string{"controlplane", "--data-dir", dataDir,
		"--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--public-url", "http://" + ingestAddr,
		"--dataplane-token", s.token, "--allow-http-hosts", "127.0.0.1,localhost", "--nats-url", s.natsURL,
	}, noAPILimit(s.bin, "controlplane")...)
	p, err := startProcess("plugs controlplane", s.bin, args, env, filepath.Join(s.dir, "controlplane.log"))
	if err != nil {
		return err
	}
	p.Discard()
	s.procs = append(s.procs, p)
	return p.waitReady(ctx, "control plane REST API", 60*time.Second, func() (bool, error) {
		err := s.API.call(ctx, "GET", "/v1/templates?page_size=1", nil, nil)
		return err == nil, err
	})
}

// StartDataPlane starts a data plane and waits until it holds at least
// sources sources. It replaces the one started before, which must have
// been stopped (StopDataPlane).
func (s *Split) StartDataPlane(ctx context.Context, name string, sources int) error {
	p, pprofURL, err := s.launchDataPlane(ctx, name, s.ingestAddr, sources)
	if err != nil {
		return err
	}
	s.DataPlane, s.PprofURL = p, pprofURL
	return nil
}

// StartRoles starts a data plane doing only roles (--roles): "receive"
// serves the installation's ingest address and becomes DataPlane, whose
// CPU is profiled; any other listens on an address of its own. It waits
// until the new data plane holds at least sources sources. Several run
// at once, so none serves metrics (their default port would clash).
func (s *Split) StartRoles(ctx context.Context, name, roles string, sources int) (*Process, error) {
	addr := s.ingestAddr
	if roles != "receive" {
		var err error
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	p, pprofURL, err := s.launchDataPlane(ctx, name, addr, sources, "--roles", roles, "--metrics-addr", "")
	if err != nil {
		return nil, err
	}
	if roles == "receive" {
		s.DataPlane, s.PprofURL = p, pprofURL
	}
	return p, nil
}

// launchDataPlane starts `plugs dataplane` listening on ingestAddr with
// extra flags, and waits for its /readyz to count sources sources.
func (s *Split) launchDataPlane(ctx context.Context, name, ingestAddr string, sources int, extra ...string) (*Process, string, error) {
	args := []string{"dataplane", "--controlplane", s.cpGRPC, "--dataplane-token", s.token,
		"--ingest-addr", ingestAddr, "--nats-url", s.natsURL, "--egress-allow", "127.0.0.0/8,localhost",
		"--node-id", name}
	args = append(args, extra...)
	if s.MemoryLimit != "" && supportsFlag(s.bin, "dataplane", "memory-limit") {
		args = append(args, "--memory-limit", s.MemoryLimit)
	}
	var pprofURL string
	if supportsFlag(s.bin, "dataplane", PprofFlag) {
		addr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		args = append(args, "--"+PprofFlag, addr)
		pprofURL = "http://" + addr + "/debug/pprof"
	}
	p, err := startProcess("plugs dataplane "+name, s.bin, args, nil, filepath.Join(s.dir, name+".log"))
	if err != nil {
		return nil, "", err
	}
	p.Discard()
	s.procs = append(s.procs, p)
	probe := &API{Ingest: "http://" + ingestAddr}
	err = p.waitReady(ctx, fmt.Sprintf("data plane %s holding %d sources", name, sources), 5*time.Minute, func() (bool, error) {
		r, err := probe.Ready(ctx)
		return r.Ready && r.Sources >= sources, err
	})
	return p, pprofURL, err
}

// StopDataPlane stops the running data plane.
func (s *Split) StopDataPlane() error {
	if s.DataPlane == nil {
		return nil
	}
	err := s.DataPlane.Stop(20 * time.Second)
	for i, p := range s.procs {
		if p == s.DataPlane {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			break
		}
	}
	s.DataPlane = nil
	return err
}

func (s *Split) plugs(ctx context.Context, args ...string) (string, error) {
	return s.plugsEnv(ctx, nil, args...)
}

// plugsEnv runs a plugs client command and returns its trimmed output.
func (s *Split) plugsEnv(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("%w: plugs %s: %w %s", ErrStart, strings.Join(args[:min(2, len(args))], " "), err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
