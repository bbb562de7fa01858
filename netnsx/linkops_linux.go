package netnsx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// RemoveAddr removes an address, as `ip addr del P dev NAME` does. The address and its
// prefix length must both be the link's: otherwise the error is ErrNotFound. As with
// ip, removing a primary IPv4 address also removes the secondary addresses of its
// subnet unless net.ipv4.conf.NAME.promote_secondaries is 1.
func (l *Link) RemoveAddr(p netip.Prefix) error {
	if err := check.Prefix("address", p); err != nil {
		return fmt.Errorf("netnsx: remove address %s from %s: %w", p, l, err)
	}
	return l.use("remove address "+p.String()+" from", func(c *rtnl.Conn) error {
		err := c.AddrDel(l.index, p)
		if errors.Is(err, unix.EADDRNOTAVAIL) { // the kernel's "no such address"
			return fmt.Errorf("%w: no %s on %s: %w", ErrNotFound, p, l, err)
		}
		return err
	})
}

// SetName renames the link, as `ip link set dev NAME name NEW` does; Name() returns the
// new name afterwards. A name taken in the namespace is ErrExists. Kernels before 6.2 refuse to
// rename a link that is up (EBUSY): that is ErrInvalid, saying to take it down first,
// with the errno reachable; 6.2 and later rename it up (and log that they did).
func (l *Link) SetName(name string) error {
	if err := check.IfName("name", name); err != nil {
		return fmt.Errorf("netnsx: rename %s to %q: %w", l, name, err)
	}
	if l == nil {
		return fmt.Errorf("netnsx: rename %s to %s: %w", l, name, errdefs.Invalid("nil link"))
	}
	err := l.ns.use("rename", label(l.name+" to "+name), func(c *rtnl.Conn, _ int) error {
		return renameErr(l, c.LinkSet(l.index, rtnl.LinkChange{Name: name}))
	})
	if err == nil {
		l.name = name
	}
	return err
}

// renameErr maps the EBUSY of a kernel that renames only links that are down.
func renameErr(l *Link, err error) error {
	if errors.Is(err, unix.EBUSY) {
		return errdefs.Invalid("%s is up and this kernel renames only links that are down: take it down first (%w)", l, err)
	}
	return err
}

// SetHardwareAddr sets the link's MAC address, as `ip link set dev NAME address MAC`
// does. It must be a unicast 6-byte Ethernet address, not all zero (ErrInvalid).
func (l *Link) SetHardwareAddr(mac net.HardwareAddr) error {
	if err := check.UnicastMAC("hardware address", mac); err != nil {
		return fmt.Errorf("netnsx: set hardware address of %s: %w", l, err)
	}
	return l.use("set hardware address "+mac.String()+" of", func(c *rtnl.Conn) error {
		return c.LinkSet(l.index, rtnl.LinkChange{HardwareAddr: mac})
	})
}

// NoMaster releases the link from its bridge, as `ip link set dev NAME nomaster` does.
// It is SetMaster(nil); a link with no master is left as it is.
func (l *Link) NoMaster() error { return l.SetMaster(nil) }

// SetNS moves the link to the namespace of ns, as `ip link set dev NAME netns N` does.
// The *Link follows: its NS is then ns and its Index the one the link has there (the
// kernel keeps the old one only if it is free). A link of the same name in ns is
// ErrExists and the link stays where it was; a nil or closed ns is ErrInvalid; moving a
// link to the namespace it is in changes nothing. The kernel takes the link down and
// out of its bridge on the way, and its addresses and routes do not follow: bring it up
// and address it again in ns. lo and bridges cannot move ("netns is immutable":
// ErrInvalid; lo is refused first as a clash, ErrExists, since every namespace has
// one); a veth end can, and keeps its peer.
func (l *Link) SetNS(ns *NS) error {
	if l == nil {
		return fmt.Errorf("netnsx: move %s to %s: %w", l, ns, errdefs.Invalid("nil link"))
	}
	target, err := resolve(ns)
	if err != nil {
		return fmt.Errorf("netnsx: move %s to %s: %w", l, ns, err)
	}
	var index int
	err = l.ns.useRaw(func(c *rtnl.Conn, fd int) error {
		return target.useRaw(func(tc *rtnl.Conn, tfd int) (err error) {
			index, err = moveLink(l, c, fd, tc, tfd, same(l.ns, target))
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("netnsx: move %s to %s: %w", l, ns, errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	l.ns, l.index = target, index
	return nil
}

// moveLink moves l from the namespace of c (fd) to that of tc (tfd) and returns its
// index there. If it cannot be found there afterwards, it is moved back by name, and
// l.index updated to what it has again, so the *Link stays true.
func moveLink(l *Link, c *rtnl.Conn, fd int, tc *rtnl.Conn, tfd int, same bool) (int, error) {
	if same {
		return l.index, nil // the kernel changes nothing either
	}
	// ip's check, naming what clashes; the kernel's EEXIST still catches a race.
	if _, err := tc.LinkByName(l.name); err == nil {
		return 0, fmt.Errorf("%w: a link named %s is there already", ErrExists, l.name)
	} else if !errors.Is(err, unix.ENODEV) {
		return 0, err
	}
	if err := c.LinkSet(l.index, rtnl.LinkChange{NSFd: tfd}); err != nil {
		return 0, err
	}
	moved, err := tc.LinkByName(l.name)
	if err == nil {
		return moved.Index, nil
	}
	if berr := tc.LinkSetByName(l.name, rtnl.LinkChange{NSFd: fd}); berr != nil {
		return 0, fmt.Errorf("find it after the move: %w; and moving it back: %w", err, berr)
	}
	if back, berr := c.LinkByName(l.name); berr == nil {
		l.index = back.Index
	}
	return 0, fmt.Errorf("find it after the move (moved back): %w", err)
}

// Stats returns the link's counters, the kernel's 64-bit ones that `ip -s link show`
// prints.
func (l *Link) Stats() (LinkStats, error) {
	var st LinkStats
	err := l.use("statistics of", func(c *rtnl.Conn) error {
		r, err := c.LinkStats(l.index)
		if err == nil {
			s := r.Stats
			st = LinkStats{
				RxPackets: s.RxPackets, TxPackets: s.TxPackets, RxBytes: s.RxBytes, TxBytes: s.TxBytes,
				RxErrors: s.RxErrors, TxErrors: s.TxErrors, RxDropped: s.RxDropped, TxDropped: s.TxDropped,
				Multicast: s.Multicast,
			}
		}
		return err
	})
	return st, err
}
