package main

import (
	"context"
	"fmt"
	"io"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
)

func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "generate") {
		return runVerbs(ctx, "keys", keyVerbs(), args, stdout) // the list of commands
	}
	cl := newCommandLine("keys "+args[0], "[flags]", "Prints a new master key, for PLUGS_MASTER_KEY or a key file.")
	var cp cpFlags
	generate := new(bool)
	if args[0] == "rotate" {
		cl.synopsis, cl.doc = "[--generate] [flags]", `
Re-encrypts every secret in the database under the newest key of the master
key file, as an operator, directly in the database.`
		cp.registerStore(cl.settings, "./.plugs", true)
		generate = cl.own.Bool("generate", false, "first append a new master key to the key file")
	}
	if err := cl.parse(args[1:], stdout); err != nil {
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

// keyVerbs are the commands of plugs keys, for its help.
func keyVerbs() []verb {
	return []verb{
		{"generate", "print a new master key", runKeysVerb("generate")},
		{"rotate", "re-encrypt every secret under the newest master key (--generate adds one first)", runKeysVerb("rotate")},
	}
}

func runKeysVerb(name string) func(context.Context, []string, io.Writer) error {
	return func(ctx context.Context, args []string, stdout io.Writer) error {
		return runKeys(ctx, append([]string{name}, args...), stdout)
	}
}
