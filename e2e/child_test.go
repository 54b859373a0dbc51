package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	dpserver "github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// The crash tests run a data plane in a child process, so that it can be
// killed for real: the test binary runs itself again with these variables
// set, and init below runs a data plane instead of the tests.
const (
	envChild        = "PLUGS_E2E_CHILD" // "dataplane"
	envControlPlane = "PLUGS_E2E_CONTROLPLANE"
	envToken        = "PLUGS_E2E_DATAPLANE_TOKEN"
	envNATS         = "PLUGS_E2E_NATS_URL"
	envIngest       = "PLUGS_E2E_INGEST_ADDR"
	envNode         = "PLUGS_E2E_NODE_ID"
	envRoles        = "PLUGS_E2E_ROLES" // as plugs dataplane --roles; default both
)

// init, in a child, runs the data plane until the process is killed or its
// parent goes away (its stdin closes), and never returns. It is an init
// rather than a TestMain so that it coexists with any TestMain the package
// gets.
func init() {
	if os.Getenv(envChild) != "dataplane" {
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// SIGTERM stops it gracefully, as it stops plugs dataplane.
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	go func() {
		// The parent holds the other end of stdin: EOF means it is gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		log.Info("parent gone; exiting")
		cancel()
	}()
	if err := runChildDataPlane(ctx, log); err != nil {
		log.Error("child data plane failed", "error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChildDataPlane assembles a data plane as cmd/plugs/dataplane.go does:
// configuration client, pipeline storing in backbone.EventStore, receiver
// on the data-plane server, and a forwarder started once a configuration
// is loaded.
func runChildDataPlane(ctx context.Context, log *slog.Logger) error {
	conn, err := grpc.NewClient(os.Getenv(envControlPlane), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial control plane: %w", err)
	}
	defer conn.Close()
	nc, err := backbone.Connect(ctx, backbone.Options{URL: os.Getenv(envNATS), Name: "e2e child data plane", Log: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	go func() {
		for ctx.Err() == nil {
			if err := backbone.EnsureStreams(ctx, nc.JS, backbone.StreamOptions{}); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	store := &snapshot.Store{}
	events := &backbone.EventStore{JS: nc.JS, Window: store.DedupWindow}
	roles := os.Getenv(envRoles)
	receive, forwards := roles == "" || strings.Contains(roles, "receive"), roles == "" || strings.Contains(roles, "forward")
	var ingest interface{ Register(*http.ServeMux) }
	if receive {
		ingest = receiver.New(pipeline.New(store, events, pipeline.Options{Log: log}), receiver.Options{Log: log})
	}
	// The port was free when the parent picked it, and was this data
	// plane's before a restart; retry briefly in case something holds it
	// for a moment.
	var srv *dpserver.Server
	for deadline := time.Now().Add(10 * time.Second); ; {
		srv, err = dpserver.Start(dpserver.Config{Addr: os.Getenv(envIngest), Store: store, Ingest: ingest, Log: log})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Stop(c)
	}()

	guard, err := egress.NewGuard([]string{"127.0.0.0/8"})
	if err != nil {
		return err
	}
	fwd := forward.New(nc.JS, snapshot.Routes{Store: store}, forward.Options{Guard: guard, Log: log, ReconcileEvery: 50 * time.Millisecond})
	var wg sync.WaitGroup
	wg.Go(func() {
		if !forwards {
			return
		}
		// As runForwarder: the router acknowledges an event once routed to
		// the destinations it knows, so it waits for a configuration.
		for !store.Ready() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := fwd.Run(ctx); err != nil {
			log.Error("forwarder stopped", "error", err)
		}
	})
	cc := &configclient.Client{Conn: conn, Token: os.Getenv(envToken), Node: &plugsv1.Node{Id: os.Getenv(envNode)},
		Store: store, Log: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	wg.Go(func() { _ = cc.Run(ctx) })
	wg.Wait()
	return nil
}

// childDataPlane is the parent's handle on a data plane in a child process.
// It keeps its configuration across restarts: the same ingest address and
// node id.
type childDataPlane struct {
	t      *testing.T
	env    []string
	ingest string // host:port
	logDir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{}
	starts int
}

func newChildDataPlane(t *testing.T, controlPlane, natsURL string) *childDataPlane {
	t.Helper()
	return newChildRoles(t, controlPlane, natsURL, "", "dp-child")
}

// newChildRoles is a child data plane with only some roles ("receive",
// "forward"; empty for both), under a node id of its own.
func newChildRoles(t *testing.T, controlPlane, natsURL, roles, node string) *childDataPlane {
	t.Helper()
	c := &childDataPlane{t: t, ingest: freeAddr(t), logDir: t.TempDir()}
	c.env = append(os.Environ(),
		envChild+"=dataplane",
		envControlPlane+"="+controlPlane,
		envToken+"="+dpToken,
		envNATS+"="+natsURL,
		envIngest+"="+c.ingest,
		envNode+"="+node,
		envRoles+"="+roles,
	)
	t.Cleanup(func() {
		c.kill()
		c.checkLogs()
	})
	return c
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a server that must come back on the same port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// URL is the data plane's base URL.
func (c *childDataPlane) URL() string { return "http://" + c.ingest }

// start runs the data plane and waits until it serves a configuration.
func (c *childDataPlane) start() {
	c.t.Helper()
	c.mu.Lock()
	c.starts++
	exe, err := os.Executable()
	if err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = c.env
	logFile, err := os.Create(filepath.Join(c.logDir, "dataplane-"+strconv.Itoa(c.starts)+".log"))
	if err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		c.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	c.cmd, c.stdin, c.exited = cmd, stdin, exited
	c.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			c.t.Fatalf("child data plane exited at start:\n%s", c.logTail(40))
		default:
		}
		resp, err := client.Get(c.URL() + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("child data plane not ready:\n%s", c.logTail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *childDataPlane) kill() {
	c.mu.Lock()
	cmd, stdin, exited := c.cmd, c.stdin, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
	stdin.Close()
}

// terminate sends SIGTERM and waits for the process to finish its
// graceful shutdown.
func (c *childDataPlane) terminate() {
	c.mu.Lock()
	cmd, stdin, exited := c.cmd, c.stdin, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		c.t.Errorf("child data plane still running 60 s after SIGTERM:\n%s", c.logTail(40))
		_ = cmd.Process.Kill()
		<-exited
	}
	stdin.Close()
}

// checkLogs fails the test on a data race reported by a child, which the
// parent's race detector cannot see.
func (c *childDataPlane) checkLogs() {
	for i := 1; i <= c.starts; i++ {
		b, err := os.ReadFile(filepath.Join(c.logDir, "dataplane-"+strconv.Itoa(i)+".log"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			c.t.Errorf("data race in child data plane %d:\n%s", i, b)
		}
		if c.t.Failed() {
			c.t.Logf("child data plane %d log (tail):\n%s", i, tail(b, 40))
		}
	}
}

func (c *childDataPlane) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(c.logDir, "dataplane-"+strconv.Itoa(c.starts)+".log"))
	return tail(b, n)
}

func tail(b []byte, n int) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
