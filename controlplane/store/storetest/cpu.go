package storetest

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU reports, as cpu-ns/row, the CPU time (user and system, every
// goroutine's) the process spent from start until now per row of n. On a
// shared machine it wavers less than the benchmark's wall time, which
// includes the time other processes held the cores.
func ReportCPU(b *testing.B, start time.Duration, n int) {
	b.ReportMetric(float64(CPUTime()-start)/float64(n), "cpu-ns/row")
}

// CPUTime is the CPU time the process has spent, user and system.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
