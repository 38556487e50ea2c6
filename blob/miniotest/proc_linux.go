package miniotest

import "syscall"

// sysProcAttr kills the server with the test process, however that ends
// (reap covers the rare cases this misses: Pdeathsig follows the thread
// that started the server).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
