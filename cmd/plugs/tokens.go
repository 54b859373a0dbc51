package main

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/plugshq/plugs/controlplane/auth"
	"github.com/plugshq/plugs/controlplane/store"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func runTokens(ctx context.Context, args []string, stdout io.Writer) error {
	return runVerbs(ctx, "tokens", []verb{
		{"create", "create an API key (--name), or as an operator a tenant and its key (--tenant) or a data-plane token (--dataplane)", tokensCreate},
	}, args, stdout)
}

func tokensCreate(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("tokens create", "[--tenant NAME | --dataplane --name NAME | --name NAME] [flags]", `
Creates a credential and prints it; it is not stored and cannot be shown
again. With --tenant, a new tenant and its first API key; with --dataplane,
a data-plane token: both as an operator, directly in the database
(--data-dir, --database-url). Otherwise another API key of a tenant,
through the control plane's API (--server) with one of its keys.`)
	var cp cpFlags
	cp.registerStore(cl.settings, "./.plugs", false)
	tenant := cl.own.String("tenant", "", "operator mode: create a new tenant with this name and its first key, directly in the database")
	dataPlane := cl.own.Bool("dataplane", false, "operator mode: create a data-plane token named --name, directly in the database")
	name := cl.own.String("name", "", "name of the new key or data-plane token")
	server := cl.settings.String("server", envOr("PLUGS_SERVER", "127.0.0.1:9090"), "control plane gRPC address (PLUGS_SERVER)")
	apiKey := new(string)
	secretVar(cl.settings, apiKey, "api-key", "PLUGS_API_KEY", "an existing `key` of the tenant (PLUGS_API_KEY)")
	var clientTLS clientTLSFlags
	clientTLS.register(cl.settings, false)
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if *dataPlane {
		if *tenant != "" {
			return usageErr("give --tenant or --dataplane, not both")
		}
		if *name == "" {
			return usageErr("--dataplane needs --name, to tell the token apart from others later")
		}
		db, err := store.Open(ctx, cp.databaseURL, cp.dataDir)
		if err != nil {
			return err
		}
		defer db.Close()
		token, err := auth.CreateDataPlaneToken(ctx, db.Client, *name)
		if err != nil {
			return err
		}
		// The token alone, so DP_TOKEN=$(plugs tokens create --dataplane …)
		// works; it is not stored and cannot be shown again.
		fmt.Fprintln(stdout, token)
		return nil
	}
	if *tenant != "" {
		db, err := store.Open(ctx, cp.databaseURL, cp.dataDir)
		if err != nil {
			return err
		}
		defer db.Close()
		t, token, err := auth.Bootstrap(ctx, db.Client, *tenant, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tenant %s (%s)\n%s\n", t.Name, t.ID, token)
		return nil
	}
	if *apiKey == "" {
		return usageErr("give --tenant NAME (operator) or --api-key KEY (a key of the tenant)")
	}
	creds, err := clientTLS.credentials()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+*apiKey)
	resp, err := plugsv1.NewApiKeyServiceClient(conn).CreateApiKey(ctx, &plugsv1.CreateApiKeyRequest{DisplayName: *name})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "key %s (%s)\n%s\n", resp.GetApiKey().GetId(), resp.GetApiKey().GetPrefix(), resp.GetToken())
	return nil
}
