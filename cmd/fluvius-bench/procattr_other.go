//go:build !linux

package main

import "os/exec"

// setParentDeathSignal has no portable form off Linux: the bench stops its
// hosts itself when it ends normally or on a signal.
func setParentDeathSignal(cmd *exec.Cmd) {}
