//go:build !linux

package miniotest

import "syscall"

// sysProcAttr: only Linux can tie the server's life to the test process;
// elsewhere reap stops what a dead test process left.
func sysProcAttr() *syscall.SysProcAttr { return nil }
