//go:build unix

package admin_test

import (
	"context"
	"net"
	"syscall"
)

// dialSmallWindow connects with a receive buffer of a few KiB, set before
// the connection is made, so the window the client offers stays small and
// the host's side cannot park much of what it writes in the kernel.
func dialSmallWindow(addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	return d.DialContext(context.Background(), "tcp", addr)
}
