package rtnl

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Pending reports whether a reply waits unread on the connection's socket: after a
// request has returned, anything there is a reply that request left behind.
func Pending(c *Conn) (bool, error) {
	fd := c.sock.GetFd()
	_, _, err := unix.Recvfrom(fd, make([]byte, 16), unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if errors.Is(err, unix.EAGAIN) {
		return false, nil
	}
	return err == nil, err
}
