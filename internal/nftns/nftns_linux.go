// Package nftns is how this module speaks nftables inside a namespace: a connection
// opened on the namespace's file descriptor, and the kernel's errors mapped to the
// shared sentinels. The fault and portmap packages share it.
package nftns

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// NS is what With needs of a namespace: a *netnsx.NS. An interface, so that this
// internal package imports no public one.
type NS interface {
	Netlink(fn func(c *rtnl.Conn, fd int) error) error
}

// With runs fn with an nftables connection made inside ns, held open while fn runs. A
// nil, closed or deleted namespace is refused there, never taken for the host.
func With(ns NS, fn func(c *nftables.Conn) error) error {
	return ns.Netlink(func(_ *rtnl.Conn, fd int) error {
		c, err := nftables.New(nftables.WithNetNSFd(fd), nftables.AsLasting())
		if err != nil {
			return err
		}
		defer func() { _ = c.CloseLasting() }()
		return fn(c)
	})
}

// Err maps an nftables error to the shared sentinels. A kernel without nf_tables
// answers EPROTONOSUPPORT on the first request; say which module is missing.
func Err(err error) error {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("%w: the kernel has no nf_tables (module nf_tables): %w", errdefs.ErrNotSupported, err)
	}
	return errdefs.Kernel(err, "CAP_NET_ADMIN")
}
