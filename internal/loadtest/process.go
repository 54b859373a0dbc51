package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Process is a child process of the harness (plugs dev, a plane, the
// backbone server), its stderr kept in a log file for when it fails.
type Process struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// stdout is the child's standard output, line by line, for the
	// harness to read what it prints at start.
	stdout *bufio.Reader
}

// startProcess runs bin with args and env added to the harness's own,
// its stderr (and stdout once read no more) going to logPath.
func startProcess(name, bin string, args, env []string, logPath string) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, name, err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: log: %w", ErrStart, name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, name, err)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{}), stdout: bufio.NewReader(out)}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the child has exited, with its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// ReadLine returns the next line the child prints on stdout, waiting at
// most timeout.
func (p *Process) ReadLine(timeout time.Duration) (string, error) {
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := p.stdout.ReadString('\n')
		ch <- line{s, err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			return "", fmt.Errorf("%w: %s: %w%s", ErrStart, p.Name, l.err, p.tail())
		}
		return strings.TrimRight(l.s, "\r\n"), nil
	case <-time.After(timeout):
		return "", fmt.Errorf("%w: %s printed nothing within %s%s", ErrStart, p.Name, timeout, p.tail())
	}
}

// Discard drains the child's stdout so it never blocks writing to it.
func (p *Process) Discard() { go func() { _, _ = io.Copy(io.Discard, p.stdout) }() }

// Stop asks the child to stop (SIGINT, as Ctrl-C would) and kills it if it
// has not within grace.
func (p *Process) Stop(grace time.Duration) error {
	if exited, _ := p.Exited(); exited {
		return nil
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("loadtest: %s did not stop within %s; killed", p.Name, grace)
	}
	var exit *exec.ExitError
	// ExitCode is -1 for a child ended by a signal: ours.
	if p.err != nil && !(errors.As(p.err, &exit) && exit.ExitCode() == -1) {
		return fmt.Errorf("loadtest: %s: %w", p.Name, p.err)
	}
	return nil
}

// tail is the end of the child's log, for an error message.
func (p *Process) tail() string {
	b, err := os.ReadFile(p.Log)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n--- " + p.Log + " (end) ---\n" + string(b)
}

// waitReady polls cond until it holds, failing early if the child exits.
func (p *Process) waitReady(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	err := poll(ctx, what, timeout, 100*time.Millisecond, func() (bool, error) {
		if exited, err := p.Exited(); exited {
			return false, fmt.Errorf("%s exited: %v", p.Name, err)
		}
		return cond()
	})
	if err != nil {
		return fmt.Errorf("%w%s", err, p.tail())
	}
	return nil
}
