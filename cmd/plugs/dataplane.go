package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/plugshq/plugs/dataplane/configclient"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	dpserver "github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

type dpFlags struct {
	controlPlane, token, ingestAddr, nodeID, zone string
	publicURL                                     string
	trustForwarded                                bool
	// allowUnverified honours the skip-verification request header; only
	// plugs dev can set it.
	allowUnverified bool
	// controlTLS is how to reach the control plane; creds is what it
	// loaded, or what plugs dev sets for its in-process data plane.
	controlTLS clientTLSFlags
	creds      credentials.TransportCredentials
	// ingestCert and ingestKey serve the ingest listener over TLS;
	// ingestTLS is what they loaded, nil for plaintext.
	ingestCert, ingestKey string
	ingestTLS             *tls.Config
}

// maxConfigMsg bounds a configuration message the data plane accepts: a
// full snapshot of many sources is far beyond gRPC's 4 MiB default.
const maxConfigMsg = 1 << 30

// register adds the data plane's flags; inProcess (plugs dev) leaves out
// the connection flags, which dev sets itself.
func (f *dpFlags) register(fs *flag.FlagSet, defIngest string, inProcess bool) {
	host, _ := os.Hostname()
	if !inProcess {
		fs.StringVar(&f.controlPlane, "controlplane", envOr("PLUGS_CONTROLPLANE", "127.0.0.1:9090"), "control plane gRPC address (PLUGS_CONTROLPLANE)")
		fs.StringVar(&f.token, "dataplane-token", envOr("PLUGS_DATAPLANE_TOKEN", ""),
			"data-plane token, from the control plane's --dataplane-token or `plugs tokens create --dataplane` (PLUGS_DATAPLANE_TOKEN)")
		f.controlTLS.register(fs, true)
	}
	fs.StringVar(&f.ingestCert, "ingest-tls-cert", envOr("PLUGS_INGEST_TLS_CERT", ""), "PEM certificate to serve the ingest listener over TLS (PLUGS_INGEST_TLS_CERT)")
	fs.StringVar(&f.ingestKey, "ingest-tls-key", envOr("PLUGS_INGEST_TLS_KEY", ""), "PEM private key of --ingest-tls-cert (PLUGS_INGEST_TLS_KEY)")
	fs.StringVar(&f.ingestAddr, "ingest-addr", envOr("PLUGS_INGEST_ADDR", defIngest), "public ingest listen address (PLUGS_INGEST_ADDR)")
	fs.StringVar(&f.nodeID, "node-id", envOr("PLUGS_NODE_ID", host), "stable id of this data plane (PLUGS_NODE_ID)")
	fs.StringVar(&f.zone, "zone", envOr("PLUGS_ZONE", ""), "zone or region (PLUGS_ZONE)")
	fs.BoolVar(&f.trustForwarded, "trust-forwarded-headers", envOr("PLUGS_TRUST_FORWARDED_HEADERS", "") == "true",
		"rebuild the request URL from X-Forwarded-Proto/Host, behind a proxy that sets them (PLUGS_TRUST_FORWARDED_HEADERS)")
	if inProcess {
		fs.BoolVar(&f.allowUnverified, "allow-unverified", false,
			"accept requests carrying "+receiver.SkipVerificationHeader+": true without checking their signature (development only)")
	} else {
		fs.StringVar(&f.publicURL, "public-url", envOr("PLUGS_PUBLIC_URL", ""),
			"base URL providers call, for schemes that sign the URL (PLUGS_PUBLIC_URL)")
	}
}

// load checks the TLS flags and loads their files, so a bad one stops the
// command before anything starts.
func (f *dpFlags) load(inProcess bool) error {
	cert, err := loadKeyPair("--ingest-tls-cert", "--ingest-tls-key", f.ingestCert, f.ingestKey)
	if err != nil {
		return err
	}
	if cert != nil {
		f.ingestTLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	if inProcess {
		return nil
	}
	if f.token == "" && f.controlTLS.cert == "" {
		return usageErr("give --dataplane-token, or --tls-cert and --tls-key signed by the control plane's --tls-client-ca")
	}
	if f.creds, err = f.controlTLS.credentials(); err != nil {
		return err
	}
	if !f.controlTLS.enabled() && !isLoopback(f.controlPlane) {
		slog.Warn("no --tls-ca or --tls-cert: the control plane sends configuration in plaintext to loopback only, and the token would cross the network in the clear")
	}
	return nil
}

// refuseBypass reports, loudly, a verification bypass asked of a data plane
// that is not plugs dev, and ignores it.
func refuseBypass(log *slog.Logger) {
	if v := os.Getenv("PLUGS_ALLOW_UNVERIFIED"); v != "" && v != "false" {
		log.Error("PLUGS_ALLOW_UNVERIFIED is ignored: the verification bypass exists only in plugs dev; every webhook is verified")
	}
}

type dataPlane struct {
	srv    *dpserver.Server
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{}
}

func (d *dataPlane) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.srv.Stop(ctx)
	d.cancel()
	<-d.done
	_ = d.conn.Close()
}

// startDataPlane runs a data plane; f must have been loaded, or have creds
// set by plugs dev.
func startDataPlane(ctx context.Context, f *dpFlags) (*dataPlane, error) {
	conn, err := grpc.NewClient(f.controlPlane,
		grpc.WithTransportCredentials(f.creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxConfigMsg)))
	if err != nil {
		return nil, fmt.Errorf("dial control plane: %w", err)
	}
	store := &snapshot.Store{}
	log := slog.Default()
	if f.allowUnverified {
		log.Warn("verification bypass on: requests with " + receiver.SkipVerificationHeader + ": true are accepted unsigned (development only)")
	}
	p := pipeline.New(store, pipeline.LogSink{Log: log}, pipeline.Options{Log: log, AllowUnverified: f.allowUnverified})
	rc := receiver.New(p, receiver.Options{PublicURL: f.publicURL, TrustForwardedHeaders: f.trustForwarded, Log: log})
	srv, err := dpserver.Start(dpserver.Config{Addr: f.ingestAddr, Store: store, Ingest: rc, Log: log, TLS: f.ingestTLS})
	if err != nil {
		conn.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	d := &dataPlane{srv: srv, conn: conn, cancel: cancel, done: make(chan struct{})}
	cc := &configclient.Client{
		Conn:  conn,
		Token: f.token,
		Node:  &plugsv1.Node{Id: f.nodeID, Zone: f.zone, Build: version},
		Store: store,
		Log:   slog.Default(),
	}
	go func() { defer close(d.done); _ = cc.Run(runCtx) }()
	return d, nil
}

func runDataPlane(ctx context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("plugs dataplane", flag.ContinueOnError)
	var f dpFlags
	f.register(fs, ":8080", false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.load(false); err != nil {
		return err
	}
	refuseBypass(slog.Default())
	dp, err := startDataPlane(ctx, &f)
	if err != nil {
		return err
	}
	defer dp.stop()
	<-ctx.Done()
	return nil
}
