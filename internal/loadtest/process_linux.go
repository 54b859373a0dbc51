package loadtest

import "syscall"

// childAttr makes the kernel kill a child when the harness dies, so an
// interrupted run leaves no plugs process holding ports and CPU.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
