package main

import (
	"flag"
	"os"
)

// secretValue is a string flag whose value -h never prints. Its default
// comes from the environment, and flag.PrintDefaults would otherwise show
// it, token and all, to whoever reads the help.
type secretValue struct{ p *string }

func (s secretValue) String() string { return "" }

func (s secretValue) Set(v string) error {
	*s.p = v
	return nil
}

// secretVar defines a secret string flag defaulting to the environment
// variable env.
func secretVar(fs *flag.FlagSet, p *string, name, env, usage string) {
	*p = os.Getenv(env)
	fs.Var(secretValue{p}, name, usage)
}
