package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal stops the host when the bench dies without stopping
// it (kill -9): a host left running would hold its port and data dir.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
