package loadtest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mem is a process's memory as the kernel counts it.
type Mem struct {
	// RSS is the resident set now (VmRSS); HWM its peak so far (VmHWM).
	RSS, HWM int64
}

// ReadMem reads /proc/<pid>/status; pid 0 means this process.
func ReadMem(pid int) (Mem, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return Mem{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	defer f.Close()
	var m Mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch name {
		case "VmRSS":
			m.RSS = kB(value)
		case "VmHWM":
			m.HWM = kB(value)
		}
	}
	if err := sc.Err(); err != nil {
		return Mem{}, fmt.Errorf("loadtest: %s: %w", path, err)
	}
	if m.RSS == 0 {
		return Mem{}, fmt.Errorf("%w: no VmRSS in %s", ErrUnsupported, path)
	}
	return m, nil
}

// kB reads "  1234 kB" as bytes.
func kB(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "kB")), 10, 64)
	return n << 10
}
