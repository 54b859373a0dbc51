package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of a container's memory the Go heap aims to
// stay within, leaving room for stacks, buffers outside the heap, memory
// the runtime has not yet returned, and the runtime's own overhead (about
// 20 MiB on a loaded data plane).
const memoryLimitShare = 0.8

// cgroupMemoryMax is where cgroup v2 says how much memory the container
// may use.
var cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// applyMemoryLimit sets the Go runtime's soft memory limit from --memory-limit:
// "auto" takes 80% of the container's cgroup limit (nothing outside a
// limited container, or when GOMEMLIMIT is set), a size such as "140MiB"
// is used as is, and "none" sets none. Without a limit the heap may grow
// to twice what it holds live before a collection, which under load is
// most of a data plane's memory.
func applyMemoryLimit(value string, log *slog.Logger) error {
	switch value {
	case "", "auto":
		if os.Getenv("GOMEMLIMIT") != "" {
			return nil // the runtime read it at start
		}
		b, err := os.ReadFile(cgroupMemoryMax)
		if err != nil {
			return nil // not in a cgroup v2 container
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil
		}
		limit := int64(float64(n) * memoryLimitShare)
		debug.SetMemoryLimit(limit)
		log.Info("memory limit from the container", "container_bytes", n, "go_limit_bytes", limit)
		return nil
	case "none", "0":
		debug.SetMemoryLimit(math.MaxInt64)
		return nil
	}
	n, err := parseSize(value)
	if err != nil {
		return usageErr("--memory-limit: %v", err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseSize reads a byte count with an optional B, KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.Join(fmt.Errorf("%q is not a size such as 140MiB, auto or none", s), err)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return n * mult, nil
}
