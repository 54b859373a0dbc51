package loadtest

import (
	"os"
	"runtime"
	"testing"
)

func TestReadCPUCountsThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged at least two ticks more.
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		after, err := ReadCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 2*clockTick {
			break
		}
	}
	_ = x
	if _, err := ReadCPU(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}
