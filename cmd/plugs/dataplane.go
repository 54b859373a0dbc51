package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/plugshq/plugs/dataplane/configclient"
	dpserver "github.com/plugshq/plugs/dataplane/server"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

type dpFlags struct {
	controlPlane, token, ingestAddr, nodeID, zone string
}

// register adds the data plane's flags; inProcess (plugs dev) leaves out
// the connection flags, which dev sets itself.
func (f *dpFlags) register(fs *flag.FlagSet, defIngest string, inProcess bool) {
	host, _ := os.Hostname()
	if !inProcess {
		fs.StringVar(&f.controlPlane, "controlplane", envOr("PLUGS_CONTROLPLANE", "127.0.0.1:9090"), "control plane gRPC address (PLUGS_CONTROLPLANE)")
		fs.StringVar(&f.token, "dataplane-token", envOr("PLUGS_DATAPLANE_TOKEN", ""), "data-plane token (PLUGS_DATAPLANE_TOKEN)")
	}
	fs.StringVar(&f.ingestAddr, "ingest-addr", envOr("PLUGS_INGEST_ADDR", defIngest), "public ingest listen address (PLUGS_INGEST_ADDR)")
	fs.StringVar(&f.nodeID, "node-id", envOr("PLUGS_NODE_ID", host), "stable id of this data plane (PLUGS_NODE_ID)")
	fs.StringVar(&f.zone, "zone", envOr("PLUGS_ZONE", ""), "zone or region (PLUGS_ZONE)")
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

func startDataPlane(ctx context.Context, f *dpFlags) (*dataPlane, error) {
	if f.token == "" {
		return nil, usageErr("--dataplane-token is required")
	}
	// TLS for the configuration stream is configured with the control
	// plane's listeners; plain connections are for loopback and dev.
	conn, err := grpc.NewClient(f.controlPlane, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial control plane: %w", err)
	}
	store := &snapshot.Store{}
	srv, err := dpserver.Start(f.ingestAddr, store, slog.Default())
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
	dp, err := startDataPlane(ctx, &f)
	if err != nil {
		return err
	}
	defer dp.stop()
	<-ctx.Done()
	return nil
}
