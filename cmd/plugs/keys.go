package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/internal/datadir"
)

// holderWait bounds how long keys rotate waits for the server holding the
// data directory to load the new master key (it polls its key file every
// secrets.DefaultReloadInterval).
var holderWait = 15 * time.Second

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
	if *generate && secrets.FromEnvironment() {
		return fmt.Errorf("--generate appends to %s, but %s is set and gives the keys instead: add a key to it (plugs keys generate prints one) and run plugs keys rotate without --generate",
			cp.keyFilePath(), secrets.EnvMasterKey)
	}
	// A server running on the data directory opens secrets with the keys
	// it holds: sealing under a key it does not hold would leave it unable
	// to build their configuration. So the rotation waits for it to load
	// the new key, or refuses.
	var holder *datadir.Holder
	if _, err := os.Stat(cp.dataDir); err == nil {
		cp.command = "plugs keys rotate"
		lock, err := holdDataDir(&cp)
		var inUse *datadir.InUseError
		switch {
		case errors.As(err, &inUse):
			holder = inUse.Holder
			if err := canFollow(&cp, holder); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			defer lock.Release()
		}
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
	if holder != nil {
		if err := awaitKey(ctx, &cp, kr.PrimaryID()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s, which holds %s, loaded master key %s\n", holder.Describe(), cp.dataDir, kr.PrimaryID())
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

// canFollow refuses a rotation the server holding the data directory could
// not follow: one whose keys come from somewhere it does not reload.
func canFollow(cp *cpFlags, h *datadir.Holder) error {
	switch {
	case h == nil:
		return fmt.Errorf("data directory %s is in use by a process that does not say which master keys it holds; stop it, then run plugs keys rotate", cp.dataDir)
	case h.KeyFile == "":
		return fmt.Errorf("%s holds %s and takes its master keys from %s, which it cannot reload: add the new key there (plugs keys generate prints one), restart it, then run plugs keys rotate",
			h.Describe(), cp.dataDir, secrets.EnvMasterKey)
	case followedKeyFile(cp) == "":
		return fmt.Errorf("%s holds %s and follows the key file %s, but %s is set here: unset it, so the rotation uses the same keys",
			h.Describe(), cp.dataDir, h.KeyFile, secrets.EnvMasterKey)
	case h.KeyFile != followedKeyFile(cp):
		return fmt.Errorf("%s holds %s and follows the key file %s, not %s: pass --master-key-file %s",
			h.Describe(), cp.dataDir, h.KeyFile, followedKeyFile(cp), h.KeyFile)
	}
	return nil
}

// awaitKey waits for the server holding the data directory to say it
// holds the master key id.
func awaitKey(ctx context.Context, cp *cpFlags, id string) error {
	deadline := time.Now().Add(holderWait)
	var h *datadir.Holder
	for {
		// The holder rewrites the file in place: a read that does not
		// parse is read again.
		if got, err := datadir.Read(cp.dataDir); err == nil {
			h = got
			if slices.Contains(h.KeyIDs, id) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s holds %s but did not load master key %s within %s, so nothing was re-encrypted: the key is in %s; restart it, then run plugs keys rotate (without --generate)",
				h.Describe(), cp.dataDir, id, holderWait, cp.keyFilePath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
