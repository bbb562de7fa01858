package netnsx

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// AddLink adds a link of spec's kind to the namespace, up, with its master, and then
// its addresses; a pair's other end is made in its own namespace in the same request,
// then brought up, attached and addressed. It is all or nothing: if a step fails, the
// link (and its peer) is deleted. Bad attributes are refused before any syscall.
//
// AddLink is the seam for the link kinds of this module, which wrap its errors once with
// their own operation ("bridge: create br0: ..."), so its errors carry no "netnsx:"
// prefix of their own; they wrap the shared sentinels and the kernel's errno.
func (ns *NS) AddLink(spec LinkSpec) (*Link, error) {
	if spec == nil {
		return nil, errdefs.Invalid("nil LinkSpec")
	}
	a, k := spec.LinkSpec()
	n, err := resolve(ns)
	if err != nil {
		return nil, err
	}
	tgt := n
	if a.Target != nil {
		if tgt, err = resolve(a.Target); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if a.Peer != nil {
			return nil, errdefs.Invalid("a pair is made with its peer's namespace, not a target")
		}
	}
	if err := checkAttrs("", tgt, &a); err != nil {
		return nil, err
	}
	if pa := a.Parent; pa != nil && !same(n, pa.ns) {
		return nil, errdefs.Invalid("Parent %s is in namespace %s, not in %s", pa, pa.ns, n)
	}
	var peer *NS
	if p := a.Peer; p != nil {
		if peer, err = resolve(p.NS); err != nil {
			return nil, fmt.Errorf("peer: %w", err)
		}
		if err := checkAttrs("peer ", peer, &p.LinkAttrs); err != nil {
			return nil, err
		}
		if p.Peer != nil {
			return nil, errdefs.Invalid("peer %s has a peer of its own", p.Name)
		}
		if p.Name == a.Name && same(n, peer) {
			return nil, errdefs.Invalid("both ends are %q in one namespace", a.Name)
		}
	}
	rs := &rtnl.LinkSpec{Name: a.Name, MTU: a.MTU, HardwareAddr: a.HardwareAddr, Up: true, Kind: k.Kind}
	for _, d := range k.Data {
		rs.Data = append(rs.Data, nl.NewRtAttr(int(d.Type), d.Value))
	}
	if a.Master != nil {
		rs.Master = a.Master.index
	}
	if a.Parent != nil {
		rs.Link = a.Parent.index
	}
	var l *rtnl.Link
	err = n.useRaw(func(c *rtnl.Conn, _ int) error {
		if !same(n, tgt) {
			return tgt.useRaw(func(tc *rtnl.Conn, fd int) error {
				rs.NSFd = fd
				l, err = addLinkIn(c, tc, rs, &a)
				return err
			})
		}
		if peer == nil {
			l, err = addLink(c, rs, &a, nil, 0)
			return err
		}
		if same(n, peer) {
			l, err = addLink(c, rs, &a, c, 0)
			return err
		}
		return peer.useRaw(func(pc *rtnl.Conn, fd int) error {
			l, err = addLink(c, rs, &a, pc, fd)
			return err
		})
	})
	if err != nil {
		return nil, errdefs.Kernel(err, "CAP_NET_ADMIN")
	}
	return newLink(tgt, l), nil
}

// addLinkIn makes the link on c inside the namespace of tc (rs.NSFd), then reads and
// addresses it there. The kernel's echo stays in the target namespace, so the link is
// looked up by name, and deleted by name if even that fails.
func addLinkIn(c, tc *rtnl.Conn, rs *rtnl.LinkSpec, a *LinkAttrs) (_ *rtnl.Link, err error) {
	if _, err := c.LinkAdd(rs); err != nil {
		return nil, err
	}
	l, err := tc.LinkByName(rs.Name)
	if err != nil {
		_ = tc.LinkDelByName(rs.Name)
		return nil, err
	}
	if err := addAddrs(tc, l.Index, a); err != nil {
		_ = tc.LinkDel(l.Index)
		return nil, err
	}
	return l, nil
}

// addLink makes the link on c and, for a pair, its peer on pc, made in the namespace
// behind peerFd unless that is 0 (the same namespace).
func addLink(c *rtnl.Conn, rs *rtnl.LinkSpec, a *LinkAttrs, pc *rtnl.Conn, peerFd int) (_ *rtnl.Link, err error) {
	p := a.Peer
	if p != nil {
		// The peer cannot be up at creation: the kernel opens it before the pair is
		// joined and refuses (ENOTCONN); the kernel ignores a peer's master there too.
		rs.Peer = &rtnl.LinkSpec{Name: p.Name, MTU: p.MTU, HardwareAddr: p.HardwareAddr, NSFd: peerFd}
	}
	l, err := c.LinkAdd(rs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = c.LinkDel(l.Index) // takes a peer with it
		}
	}()
	if err := addAddrs(c, l.Index, a); err != nil {
		return nil, err
	}
	if p == nil {
		return l, nil
	}
	// The kernel's echo of the new link names the peer's index (IFLA_LINK); no lookup.
	index := l.PeerIndex
	if index == 0 {
		pl, err := pc.LinkByName(p.Name)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", p.Name, err)
		}
		index = pl.Index
	}
	up := true
	ch := rtnl.LinkChange{Up: &up}
	if p.Master != nil {
		ch.Master = &p.Master.index
	}
	if err := pc.LinkSet(index, ch); err != nil {
		return nil, fmt.Errorf("set %s up: %w", p.Name, err)
	}
	if err := addAddrs(pc, index, &p.LinkAttrs); err != nil {
		return nil, err
	}
	return l, nil
}

func addAddrs(c *rtnl.Conn, index int, a *LinkAttrs) error {
	for _, p := range a.Addrs {
		if err := addAddr(c, index, p); err != nil {
			return fmt.Errorf("address %s of %s: %w", p, a.Name, err)
		}
	}
	return nil
}

// addAddr adds p to the link. Where IPv6 is disabled (Config.IPv4Only) the kernel
// refuses an IPv6 address with EACCES, which is no lack of privilege: say what it is.
func addAddr(c *rtnl.Conn, index int, p netip.Prefix) error {
	err := c.AddrAdd(index, p)
	if err != nil && p.Addr().Is6() && errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: IPv6 is disabled in this namespace (disable_ipv6=1, as netnsx.Config.IPv4Only sets): %w", ErrNotSupported, err)
	}
	return err
}

// checkAttrs refuses what the kernel would refuse, and a master elsewhere.
func checkAttrs(prefix string, ns *NS, a *LinkAttrs) error {
	if err := check.IfName(prefix+"Name", a.Name); err != nil {
		return err
	}
	if err := check.MTU(prefix+"MTU", a.MTU); err != nil {
		return err
	}
	if err := check.MAC(prefix+"HardwareAddr", a.HardwareAddr); err != nil {
		return err
	}
	if err := check.Prefixes(prefix+"Addrs", a.Addrs); err != nil {
		return err
	}
	if m := a.Master; m != nil {
		if m.kind != "bridge" {
			return errdefs.Invalid("%sMaster %s is a %q link, not a bridge", prefix, m, m.kind)
		}
		if !same(ns, m.ns) {
			return errdefs.Invalid("%sMaster %s is in namespace %s, not in %s", prefix, m, m.ns, ns)
		}
	}
	return nil
}

// SameNamespace reports whether two handles are one namespace. A nil handle is no
// namespace, not even the same as another nil.
func (ns *NS) SameNamespace(other *NS) bool { return same(ns, other) }

// Netlink runs fn with the namespace's netlink connection and file descriptor, held
// open while fn runs; a nil, closed or deleted handle is refused. It is the seam for
// this module's packages (a kind's own requests, fault's qdiscs and nftables); its
// argument's types are internal, so no other package can call it. Errors are fn's, or
// the handle's, without a prefix: the caller wraps them.
func (ns *NS) Netlink(fn func(c *rtnl.Conn, fd int) error) error {
	n, err := resolve(ns)
	if err != nil {
		return err
	}
	return n.useRaw(fn)
}

// LinkOf returns the *Link for a link read on the namespace's connection (Netlink).
func (ns *NS) LinkOf(l *rtnl.Link) *Link { return newLink(ns, l) }

// FDB returns the link's forwarding-database entries, as `bridge fdb show dev NAME`
// lists them; for a bridge, also those of its ports, as `bridge fdb show br NAME` does.
func (l *Link) FDB() ([]FDBEntry, error) {
	var out []FDBEntry
	err := l.use("fdb of", func(c *rtnl.Conn) error {
		ns, err := c.Neighs(unix.AF_BRIDGE)
		if err != nil {
			return err
		}
		ls, err := c.Links()
		if err != nil {
			return err
		}
		names := make(map[int]string, len(ls))
		for _, l := range ls {
			names[l.Index] = l.Name
		}
		for i := range ns {
			n := &ns[i]
			if n.Index != l.index && (l.kind != "bridge" || n.Master != l.index) {
				continue
			}
			out = append(out, FDBEntry{
				HardwareAddr: n.HardwareAddr,
				Dst:          n.IP,
				Dev:          names[n.Index],
				VLAN:         n.VLAN,
				VNI:          n.VNI,
				Permanent:    n.State&unix.NUD_PERMANENT != 0,
				Self:         n.Flags&unix.NTF_SELF != 0,
			})
		}
		return nil
	})
	return out, err
}

// AddFDB adds or replaces an entry on the link, as
// `bridge fdb replace MAC dev NAME [dst DST] self|master permanent|static` does: Self
// puts it in the device's own table (a VXLAN device's), otherwise in its bridge's;
// Permanent makes it permanent, otherwise static. e.Dev is ignored: the entry is the link's.
func (l *Link) AddFDB(e FDBEntry) error {
	return l.fdb("add fdb", e, func(c *rtnl.Conn, n rtnl.Neigh) error { return c.NeighAdd(n, rtnl.NeighReplace) })
}

// AppendFDB adds one more destination for the entry's MAC, as `bridge fdb append` does;
// a VXLAN device floods to every destination of the all-zero MAC.
func (l *Link) AppendFDB(e FDBEntry) error {
	return l.fdb("append fdb", e, func(c *rtnl.Conn, n rtnl.Neigh) error { return c.NeighAdd(n, rtnl.NeighAppend) })
}

// DeleteFDB removes the entry with e's MAC (and, when e.Dst is set, only that
// destination), as `bridge fdb del` does.
func (l *Link) DeleteFDB(e FDBEntry) error {
	return l.fdb("delete fdb", e, func(c *rtnl.Conn, n rtnl.Neigh) error { return c.NeighDel(n) })
}

func (l *Link) fdb(op string, e FDBEntry, fn func(*rtnl.Conn, rtnl.Neigh) error) error {
	if err := checkFDB(e); err != nil {
		return fmt.Errorf("netnsx: %s %s: %w", op, l, err)
	}
	if l == nil {
		return fmt.Errorf("netnsx: %s: %w", op, errdefs.Invalid("nil link"))
	}
	n := rtnl.Neigh{Family: unix.AF_BRIDGE, Index: l.index, HardwareAddr: e.HardwareAddr, IP: e.Dst, State: unix.NUD_NOARP, Flags: unix.NTF_MASTER}
	if e.Self {
		n.Flags = unix.NTF_SELF
	}
	if e.Permanent {
		n.State = unix.NUD_PERMANENT
	}
	return l.use(op+" "+e.HardwareAddr.String()+" to", func(c *rtnl.Conn) error { return fn(c, n) })
}

func checkFDB(e FDBEntry) error {
	if len(e.HardwareAddr) != 6 {
		return errdefs.Invalid("HardwareAddr %q is not a 6-byte Ethernet address", e.HardwareAddr)
	}
	if e.Dst.IsValid() {
		if err := check.Unicast("Dst", e.Dst); err != nil {
			return err
		}
	}
	if e.VLAN != 0 || e.VNI != 0 {
		return errdefs.Invalid("VLAN and VNI are read back only")
	}
	return nil
}
