package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ), 100 on
// every Linux architecture Plugs is built for.
const clockTick = 10 * time.Millisecond

// ReadCPU is the CPU time, user and system, a process has used so far, from
// /proc/<pid>/stat.
func ReadCPU(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields counted are those after its closing one.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: %s: no command name", ErrUnsupported, path)
	}
	f := strings.Fields(s[i+1:])
	// utime and stime are fields 14 and 15; f[0] is field 3.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: %s: %d fields", ErrUnsupported, path, len(f)+2)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %w", ErrUnsupported, path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// CPUUse is the CPU time each process of an installation used over a
// stretch of load, by process name, and the webhooks accepted meanwhile.
type CPUUse struct {
	Names    []string
	CPU      map[string]time.Duration
	Accepted int64
}

// cpuMeter reads the CPU time of a set of processes at the start and end
// of a stretch of load.
type cpuMeter struct {
	procs []*Process
	start map[string]time.Duration
}

func newCPUMeter(procs ...*Process) *cpuMeter {
	m := &cpuMeter{procs: procs, start: map[string]time.Duration{}}
	for _, p := range procs {
		if t, err := ReadCPU(p.Pid()); err == nil {
			m.start[p.Name] = t
		}
	}
	return m
}

// add adds the CPU used since the meter started, and accepted, to u.
func (m *cpuMeter) add(u *CPUUse, accepted int64) {
	if u.CPU == nil {
		u.CPU = map[string]time.Duration{}
	}
	for _, p := range m.procs {
		start, ok := m.start[p.Name]
		t, err := ReadCPU(p.Pid())
		if !ok || err != nil {
			continue
		}
		if _, seen := u.CPU[p.Name]; !seen {
			u.Names = append(u.Names, p.Name)
		}
		u.CPU[p.Name] += t - start
	}
	u.Accepted += accepted
}

// PerWebhook is a process's CPU time per accepted webhook.
func (u *CPUUse) PerWebhook(name string) time.Duration {
	if u == nil || u.Accepted == 0 {
		return 0
	}
	return u.CPU[name] / time.Duration(u.Accepted)
}
