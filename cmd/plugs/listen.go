package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// portTaken adds to the error of a listener whose address another process
// holds the flag of fs that moves it, and that flag's variable: a port
// already in use is the first thing that stops a second plugs dev.
func portTaken(err error, fs *flag.FlagSet) error {
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	_, port, _ := net.SplitHostPort(op.Addr.String())
	var hint string
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasSuffix(f.Name, "-addr") || hint != "" {
			return
		}
		if _, p, err := net.SplitHostPort(f.Value.String()); err == nil && p == port {
			hint = fmt.Sprintf("--%s (%s)", f.Name, envName(f))
		}
	})
	if hint == "" {
		return err
	}
	return fmt.Errorf("%w; listen elsewhere with %s", err, hint)
}
