package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plugshq/plugs/internal/loadtest"
)

// The examples of README.md and docs/api.md run as written: every ```sh
// block of a document, in order, in one bash, against a plugs dev this
// test builds and starts on free ports in a temporary directory, with
// local receivers standing in for the billing pipeline. A block fenced
// ```sh manual is not run (make run, TLS certificates); any other shell
// fence fails the test, so nothing is left out silently.
//
// The commands are the documents' own. Only addresses change: the default
// ports the documents use (8080, 8081, 9090 and the receivers' 9911 to
// 9913) become the ones this test took, and PLUGS_SERVER points the
// command-line client at the gRPC port.
//
// A command that fails stops the script (set -e, pipefail, unset variables
// are errors). Every curl answer is recorded: an answer of 3xx, 4xx or 5xx
// fails the test unless the document says that answer comes, with
// "(HTTP 401)" in a comment of the block, in the same order.
func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the plugs binary")
	}
	for _, tool := range []string{"bash", "curl", "openssl", "grep", "sed", "awk", "cut", "base64", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the examples need %s: %v", tool, err)
		}
	}
	bin := buildPlugs(t)
	for _, doc := range []string{"README.md", "docs/api.md"} {
		t.Run(strings.ReplaceAll(doc, "/", "_"), func(t *testing.T) { runDocExamples(t, bin, doc) })
	}
}

// docBlock is a ```sh block of a document and the line it starts on.
type docBlock struct {
	line  int
	lines []string
}

// shellFences are the fence languages that hold shell commands.
var shellFences = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true, "zsh": true}

// runnableBlocks reads the blocks of doc the test runs, failing on a shell
// block fenced in a way that says neither "run" (sh) nor "manual".
func runnableBlocks(t *testing.T, doc string) []docBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", doc))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var blocks []docBlock
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(strings.TrimLeft(lines[i], " "), "```")
		if !ok {
			continue
		}
		end := i + 1
		for end < len(lines) && !strings.HasPrefix(strings.TrimLeft(lines[end], " "), "```") {
			end++
		}
		switch fields := strings.Fields(info); {
		case info == "sh":
			blocks = append(blocks, docBlock{line: i + 2, lines: lines[i+1 : end]})
		case info == "sh manual":
		case len(fields) > 0 && shellFences[fields[0]]:
			t.Errorf("%s:%d: fence %q: use ```sh (run by this test) or ```sh manual (not run)", doc, i+1, info)
		}
		i = end
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no ```sh block", doc)
	}
	return blocks
}

// expectedStatus finds the answers a document says are errors: "(HTTP 401)".
var expectedStatus = regexp.MustCompile(`#.*\(HTTP ([1-5][0-9][0-9])\)`)

// scriptPrelude makes the examples' shell strict, and records each curl
// answer's status in $DOC_STATUSES (the answer itself is printed as curl
// prints it, and a newline).
const scriptPrelude = `set -euo pipefail
trap 'echo "doc-examples: failed at script line $LINENO" >&2' ERR
curl() {
	local out status
	out=$(command curl -w '\n%{http_code}' "$@") || return
	status=${out##*$'\n'}
	printf '%s\n' "${out%$'\n'*}"
	local call="$*"
	printf '%s %s\n' "$status" "${call//$'\n'/ }" >>"$DOC_STATUSES"
}
`

// runDocExamples runs the blocks of doc against a fresh plugs dev.
func runDocExamples(t *testing.T, bin, doc string) {
	blocks := runnableBlocks(t, doc)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "bin", "plugs")); err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, bin, dir)
	receivers := map[string]*billingReceiver{}
	replace := []string{"127.0.0.1:8080", dev.ingest, "127.0.0.1:8081", dev.http, "127.0.0.1:9090", dev.grpc}
	for _, port := range []string{"9911", "9912", "9913"} {
		r := newReceiver(t)
		receivers[port] = r
		replace = append(replace, "127.0.0.1:"+port, r.addr)
	}
	addrs := strings.NewReplacer(replace...)

	// The script, and which line of doc each of its lines is.
	var script strings.Builder
	script.WriteString(scriptPrelude)
	origin := make([]int, strings.Count(scriptPrelude, "\n")+1) // 1-based script lines
	var expected []int
	for _, b := range blocks {
		for i, line := range b.lines {
			script.WriteString(addrs.Replace(line) + "\n")
			origin = append(origin, b.line+i)
			if m := expectedStatus.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				expected = append(expected, code)
			}
		}
	}
	scriptPath := filepath.Join(dir, "examples.sh")
	statusPath := filepath.Join(dir, "statuses")
	if err := os.WriteFile(scriptPath, []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptPath)
	cmd.Dir = dir
	cmd.Env = append(environWithoutPlugs(), "PLUGS_SERVER="+dev.grpc, "DOC_STATUSES="+statusPath)
	out, err := cmd.CombinedOutput()
	statuses, _ := os.ReadFile(statusPath)
	if err != nil {
		where := ""
		if m := regexp.MustCompile(`failed at script line (\d+)`).FindSubmatch(out); m != nil {
			if n, _ := strconv.Atoi(string(m[1])); n > 0 && n < len(origin) {
				where = fmt.Sprintf(" at %s:%d", doc, origin[n])
			}
		}
		t.Fatalf("the examples of %s failed%s: %v\n--- output\n%s\n--- answers\n%s\n--- plugs dev\n%s",
			doc, where, err, tail(out, 120), statuses, tail(dev.logs.bytes(), 60))
	}

	var errors []int
	for _, line := range strings.Split(strings.TrimSpace(string(statuses)), "\n") {
		code, _ := strconv.Atoi(strings.SplitN(line, " ", 2)[0])
		if code == 0 || code >= 300 {
			errors = append(errors, code)
		}
	}
	if !slices.Equal(errors, expected) {
		t.Fatalf("%s: answers with errors %v, the document expects %v (\"(HTTP nnn)\" comments)\n--- answers\n%s\n--- output\n%s",
			doc, errors, expected, statuses, tail(out, 120))
	}
	// The destination on 9911 is the one the examples send an event to
	// after making it.
	if receivers["9911"].count.Load() == 0 {
		t.Errorf("%s: no delivery reached the destination at 127.0.0.1:9911", doc)
	}
}

// environWithoutPlugs is this process's environment without its PLUGS_*
// settings, which would change what the examples do, and with no proxy for
// the local addresses.
func environWithoutPlugs() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLUGS_") {
			env = append(env, kv)
		}
	}
	return append(env, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
}

// billingReceiver is a billing pipeline that takes every delivery.
type billingReceiver struct {
	addr  string
	count atomic.Int64
}

func newReceiver(t *testing.T) *billingReceiver {
	r := &billingReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	r.addr = srv.Listener.Addr().String()
	return r
}

// buildPlugs builds cmd/plugs as make build does, without the race
// detector: go build and go vet leave most of it in the build cache, and a
// race-enabled link takes several times longer.
func buildPlugs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "plugs")
	if err := loadtest.BuildPlugs(context.Background(), "..", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// devProcess is a running plugs dev and its addresses.
type devProcess struct {
	grpc, http, ingest string
	logs               *lockedBuffer
}

// startDev starts plugs dev in dir, its data under dir/.plugs as the
// documents expect, on free ports, and stops it when the test ends.
func startDev(t *testing.T, bin, dir string) *devProcess {
	t.Helper()
	d := &devProcess{grpc: freeAddr(t), http: freeAddr(t), ingest: freeAddr(t), logs: &lockedBuffer{}}
	cmd := exec.Command(bin, "dev", "--data-dir", ".plugs", "--memory-limit", "none",
		"--grpc-addr", d.grpc, "--http-addr", d.http, "--ingest-addr", d.ingest, "--nats-port", "-1")
	cmd.Dir = dir
	cmd.Env = environWithoutPlugs()
	cmd.Stderr = d.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(d.logs, sc.Text())
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C to stop.") {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("plugs dev did not stop on SIGINT\n%s", tail(d.logs.bytes(), 60))
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("plugs dev exited\n%s", tail(d.logs.bytes(), 60))
	case <-time.After(time.Minute):
		t.Fatalf("plugs dev did not start\n%s", tail(d.logs.bytes(), 60))
	}
	return d
}

// lockedBuffer collects a child's output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b...)
}

// The README states the Go version go.mod requires.
func TestREADMEGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Go " + string(m[1]) + " or newer"; !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not say %q, the version go.mod requires", want)
	}
}
