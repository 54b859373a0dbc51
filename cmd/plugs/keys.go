package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
)

func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "generate") {
		return usageErr("plugs keys generate | plugs keys rotate [--generate]")
	}
	fs := flag.NewFlagSet("plugs keys "+args[0], flag.ContinueOnError)
	var cp cpFlags
	cp.register(fs, "./.plugs", "", "", "")
	generate := fs.Bool("generate", false, "with rotate: first append a new master key to the key file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "generate" {
		k, err := secrets.GenerateKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secrets.FormatKey(k))
		return nil
	}
	if *generate {
		id, err := secrets.AppendNewKey(cp.keyFilePath())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added master key %s to %s\n", id, cp.keyFilePath())
	}
	kr, err := secrets.Load(cp.keyFilePath(), false)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cp.databaseURL, cp.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := store.ResealSecrets(ctx, db.Client, kr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d secrets under master key %s\n", n, kr.PrimaryID())
	return nil
}
