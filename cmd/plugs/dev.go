package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/ent/viewer"
	"github.com/plugshq/plugs/internal/metrics"
	"github.com/plugshq/plugs/internal/tracing"
)

// devKeyFile keeps the bootstrap API key of a dev data directory, so the
// README's walk-through works after a restart too. Development only.
const devKeyFile = "dev-api-key"

func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("dev", "[flags]", `
Runs a control plane, a data plane and an embedded NATS JetStream server in
one process, for local use: SQLite, the master key and the stream files
under --data-dir, a tenant and its API key made on the first start, plain
http allowed to destinations on localhost. It listens on four ports, each
set by a flag below: --ingest-addr (webhooks, /healthz, /readyz),
--http-addr (REST API and /metrics), --grpc-addr (gRPC API) and
--nats-port (embedded NATS).`)
	fs := cl.settings
	var cp cpFlags
	var dp dpFlags
	var tf traceFlags
	cp.register(fs, "./.plugs", "127.0.0.1:9090", "127.0.0.1:8081", "")
	cp.tls.register(fs)
	dp.register(fs, "127.0.0.1:8080", true)
	tf.register(fs)
	natsHost := fs.String("nats-host", "127.0.0.1", "embedded NATS listen host (PLUGS_NATS_HOST)")
	natsPort := fs.Int("nats-port", 4222, "embedded NATS client port; -1 picks a free one (PLUGS_NATS_PORT)")
	natsFsync := fs.Bool("nats-fsync", false,
		"sync every event to disk before acknowledging it: survives power loss, far slower (PLUGS_NATS_FSYNC)")
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if err := cp.loadTLS(); err != nil {
		return err
	}
	if err := dp.load(true); err != nil {
		return err
	}
	// One tracer provider for both planes; it stops after them.
	tp, err := tf.start(ctx, tracing.ServiceDev)
	if err != nil {
		return err
	}
	defer stopTracing(tp)
	cp.tracing, dp.tracing = tp.Tracers(), tp.Tracers()
	if err := os.MkdirAll(cp.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// The whole data directory is this process's: its database, key file
	// and embedded NATS. plugs keys rotate waits on the lock for this
	// process to load a new master key before sealing under it.
	cp.command = "plugs dev"
	lock, err := holdDataDir(&cp)
	if err != nil {
		return err
	}
	defer lock.Release()
	cp.lock = lock
	if cp.publicURL == "" {
		cp.publicURL = scheme(dp.ingestTLS != nil) + dp.ingestAddr
	}
	dp.publicURL = cp.publicURL
	// Test events go to the in-process data plane, whatever URL providers
	// are given.
	cp.ingestURL = scheme(dp.ingestTLS != nil) + dialable(dp.ingestAddr)
	if cp.allowHTTPHosts == "" {
		// Local receivers are the point of a dev setup.
		cp.allowHTTPHosts = "localhost,127.0.0.1"
	}
	if dp.egressAllow == "" {
		dp.egressAllow = "127.0.0.0/8,::1/128,localhost"
	}
	// The in-process data plane authenticates with a token made for this
	// run only.
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	dp.token = "dp_dev_" + hex.EncodeToString(tok)
	dp.controlPlane = cp.grpcAddr

	durability := backbone.DurabilityDefault
	if *natsFsync {
		// Every write waits for a sync: group commit lets concurrent
		// webhooks share one.
		durability, dp.groupCommit = backbone.DurabilityFsync, true
	}
	nats, err := backbone.StartEmbeddedWith(filepath.Join(cp.dataDir, "nats"), *natsHost, *natsPort, durability, nil)
	if errors.Is(err, backbone.ErrListen) {
		return fmt.Errorf("%w; listen elsewhere with --nats-port (PLUGS_NATS_PORT), -1 for any free port", err)
	}
	if err != nil {
		return err
	}
	defer nats.Shutdown()
	dp.nats.url, dp.natsReplicas = nats.URL(), 1
	dp.receiptRetention = cp.receiptRetention
	// The streams exist before either plane starts, so the control plane's
	// receipts index does not wait for the data plane to create them.
	if err := ensureDevStreams(ctx, nats.URL(), dp.streamOptions()); err != nil {
		return err
	}
	cp.nats.url = nats.URL()

	// One /metrics, on the REST port, for both planes: everything listens
	// on loopback here. Elsewhere it is a listener of its own.
	cp.metrics, cp.metricsOnREST = metrics.NewRegistry(), true
	dp.metrics = cp.metrics
	c, err := startControlPlane(ctx, &cp, true, []string{dp.token})
	if err != nil {
		return portTaken(err, fs)
	}
	defer c.stop()
	key, fresh, err := devBootstrap(ctx, c, cp.dataDir)
	if err != nil {
		return err
	}
	dp.controlPlane = c.srv.GRPCAddr
	// The in-process data plane trusts exactly the control plane's own
	// certificate, as the REST gateway does.
	dp.creds = c.srv.LoopbackCredentials()
	d, err := startDataPlane(ctx, &dp)
	if err != nil {
		return portTaken(err, fs)
	}
	defer d.stop()

	rest := scheme(cp.tlsConfig != nil)
	keyNote := "(created now; also saved in " + filepath.Join(cp.dataDir, devKeyFile) + ")"
	if !fresh {
		keyNote = "(from " + filepath.Join(cp.dataDir, devKeyFile) + ")"
	}
	fmt.Fprintf(stdout, `
Plugs dev is running.

  Console       %s%s/   (sign in with the API key below)
  REST API      %[1]s%[2]s/v1/sources
  API document  %[1]s%[2]s/openapi.json
  Metrics       %[1]s%[2]s/metrics
  gRPC          %s  (reflection on)
  Ingest        %s/v1/ingest/webhook/{sourceId}
  NATS          %s
  Data dir      %s

  API key       %s
                %s

  export PLUGS_API_KEY=%s
  curl -s -H "Authorization: Bearer $PLUGS_API_KEY" %s%s/v1/templates

Press Ctrl-C to stop.
`, rest, c.srv.HTTPAddr, c.srv.GRPCAddr, strings.TrimSuffix(cp.publicURL, "/"), nats.URL(), cp.dataDir, key, keyNote, key, rest, c.srv.HTTPAddr)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping")
	return nil
}

// devBootstrap makes the dev tenant and its first key when the database has
// no tenant yet, and otherwise reads the saved key.
func devBootstrap(ctx context.Context, c *controlPlane, dataDir string) (key string, fresh bool, err error) {
	path := filepath.Join(dataDir, devKeyFile)
	n, err := c.db.Client.Tenant.Query().Count(viewer.System(ctx))
	if err != nil {
		return "", false, err
	}
	if n > 0 {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "(not saved; create one with: plugs tokens create --tenant NAME)", false, nil
		}
		if err != nil {
			return "", false, err
		}
		return strings.TrimSpace(string(b)), false, nil
	}
	_, token, err := auth.Bootstrap(ctx, c.db.Client, "dev", "bootstrap")
	if err != nil {
		return "", false, err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return token, true, nil
}

// dialable turns a wildcard listen address (":8080") into one this host
// can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// scheme is the URL scheme of a listener with or without TLS.
func scheme(secure bool) string {
	if secure {
		return "https://"
	}
	return "http://"
}

func ensureDevStreams(ctx context.Context, url string, opts backbone.StreamOptions) error {
	nc, err := backbone.Connect(ctx, backbone.Options{URL: url, Name: "plugs-dev"})
	if err != nil {
		return err
	}
	defer nc.Close()
	return backbone.EnsureStreams(ctx, nc.JS, opts)
}
