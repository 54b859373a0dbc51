package loadtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPU       string
	Cores     int
	GoVersion string
	OS        string
	// LoadAvg is /proc/loadavg at the start: other work on the machine.
	LoadAvg  string
	MemTotal string
	Commit   string
}

// ReadMachine describes this machine.
func ReadMachine() Machine {
	m := Machine{Cores: numCPU(), GoVersion: goVersion(), OS: osRelease()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kB(v))/(1<<30))
			}
		}
	}
	m.Commit = gitCommit()
	return m
}

func numCPU() int { return runtime.NumCPU() }

// goVersion is the toolchain's `go version`, or the version this binary
// was built with when no toolchain is at hand.
func goVersion() string {
	if out, err := exec.Command("go", "version").Output(); err == nil {
		return strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	}
	return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func osRelease() string {
	s := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		s += " " + strings.TrimSpace(string(b))
	}
	return s
}

// gitCommit is the checked-out commit, marked when the tree has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}
