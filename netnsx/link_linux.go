package netnsx

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

func newLink(ns *NS, l *rtnl.Link) *Link {
	return &Link{ns: ns, name: l.Name, index: l.Index, kind: l.Kind}
}

type label string

func (s label) String() string { return string(s) }

// Link returns the interface called name.
func (ns *NS) Link(ifname string) (*Link, error) {
	l, err := ns.lookup(ifname)
	if err != nil {
		return nil, fmt.Errorf("netnsx: link %s in %s: %w", ifname, ns, err)
	}
	return l, nil
}

// lookup is Link without the prefix, for this package's calls that add their own.
func (ns *NS) lookup(ifname string) (*Link, error) {
	if err := check.IfName("interface name", ifname); err != nil {
		return nil, err
	}
	n, err := resolve(ns)
	if err != nil {
		return nil, err
	}
	var l *rtnl.Link
	err = n.useRaw(func(c *rtnl.Conn, _ int) (err error) {
		l, err = c.LinkByName(ifname)
		return err
	})
	if err != nil {
		return nil, errdefs.Kernel(err, "CAP_NET_ADMIN")
	}
	return newLink(n, l), nil
}

// Links returns every interface in the namespace, in index order.
func (ns *NS) Links() ([]*Link, error) {
	n, err := resolve(ns)
	if err != nil {
		return nil, fmt.Errorf("netnsx: links %s: %w", ns, err)
	}
	var ls []*rtnl.Link
	err = ns.use("links", ns, func(c *rtnl.Conn, _ int) (err error) {
		ls, err = c.Links()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Link, len(ls))
	for i, l := range ls {
		out[i] = newLink(n, l)
	}
	return out, nil
}

// AddRoute adds a route to r.Table (0: main), as `ip route add` does.
func (ns *NS) AddRoute(r Route) error { return ns.changeRoute("add route", r, (*rtnl.Conn).RouteAdd) }

// ReplaceRoute adds a route or replaces the one of r.Table with the same destination
// and metric, as `ip route replace` does: the way to move a destination to another
// gateway or device in one step, with no moment without a route.
func (ns *NS) ReplaceRoute(r Route) error {
	return ns.changeRoute("replace route", r, (*rtnl.Conn).RouteReplace)
}

// DeleteRoute deletes a route of r.Table (0: main), as `ip route del` does: the
// first that matches r's destination and, where r has them, its gateway, device and
// metric. Src is ignored, so a route read back with Routes can be passed as it is.
// No such route is ErrNotFound. It checks r as AddRoute does.
func (ns *NS) DeleteRoute(r Route) error {
	r.Src = netip.Addr{}
	return ns.changeRoute("delete route", r, (*rtnl.Conn).RouteDel)
}

// changeRoute checks r and sends it with send, its device resolved in ns.
func (ns *NS) changeRoute(op string, r Route, send func(*rtnl.Conn, rtnl.Route) error) error {
	obj := label(fmt.Sprintf("%s in %s", routeString(r), ns))
	rr, err := checkRoute(r)
	if err != nil {
		return fmt.Errorf("netnsx: %s %s: %w", op, obj, err)
	}
	return ns.use(op, obj, func(c *rtnl.Conn, _ int) error {
		if r.Dev != "" {
			l, err := c.LinkByName(r.Dev)
			if err != nil {
				return fmt.Errorf("device %s: %w", r.Dev, err)
			}
			rr.OIF = l.Index
		}
		return send(c, rr)
	})
}

func checkRoute(r Route) (rtnl.Route, error) {
	rr := rtnl.Route{Dst: r.Dst, Gateway: r.Gateway}
	table, err := checkTable("Table", r.Table)
	if err != nil {
		return rr, err
	}
	rr.Table = table
	if r.Metric < 0 || int64(r.Metric) > math.MaxUint32 {
		return rr, errdefs.Invalid("Metric %d out of range 0..%d", r.Metric, uint32(math.MaxUint32))
	}
	rr.Priority = uint32(r.Metric)
	if r.Dev == "" && !r.Gateway.IsValid() {
		return rr, errdefs.Invalid("route needs a gateway or a device")
	}
	if r.Dev != "" {
		if err := check.IfName("Dev", r.Dev); err != nil {
			return rr, err
		}
	}
	if r.Src.IsValid() {
		return rr, errdefs.Invalid("Src is read back only")
	}
	if r.Gateway.IsValid() {
		if err := check.Unicast("Gateway", r.Gateway); err != nil {
			return rr, err
		}
	}
	if r.Dst == (netip.Prefix{}) {
		rr.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Gateway.Is6() {
			rr.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if !r.Gateway.IsValid() {
			return rr, errdefs.Invalid("a default route needs a gateway")
		}
	} else if !r.Dst.IsValid() {
		return rr, errdefs.Invalid("Dst: invalid prefix")
	} else if r.Dst.Addr().Is4In6() {
		return rr, errdefs.Invalid("Dst %s is an IPv4-mapped IPv6 prefix; use the IPv4 form", r.Dst)
	} else if r.Dst.Addr().Zone() != "" {
		return rr, errdefs.Invalid("Dst %s has a zone", r.Dst)
	}
	rr.Dst = rr.Dst.Masked()
	if r.Gateway.IsValid() && r.Gateway.Is4() != rr.Dst.Addr().Is4() {
		return rr, errdefs.Invalid("Gateway %s and Dst %s are of different families", r.Gateway, rr.Dst)
	}
	return rr, nil
}

// checkTable checks a routing table number; 0 is main.
func checkTable(field string, table int) (uint32, error) {
	if table < 0 || int64(table) > math.MaxUint32 {
		return 0, errdefs.Invalid("%s %d out of range 0..%d (0 is main)", field, table, uint32(math.MaxUint32))
	}
	if table == 0 {
		return unix.RT_TABLE_MAIN, nil
	}
	return uint32(table), nil
}

func routeString(r Route) string {
	s := "default"
	if r.Dst.IsValid() {
		s = r.Dst.String()
	}
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	return s
}

// Routes returns the unicast routes of the main table, IPv4 then IPv6, as `ip route`
// and `ip -6 route` list them. It is RoutesIn(0).
func (ns *NS) Routes() ([]Route, error) { return ns.RoutesIn(0) }

// RoutesIn returns the unicast routes of one table (0: main), IPv4 then IPv6, as
// `ip route show table N` and `ip -6 route show table N` list them. Each is read back
// with its Table (0 for main) and Metric, so it can be passed to DeleteRoute. An empty
// or unused table has none: nil, not an error.
func (ns *NS) RoutesIn(table int) ([]Route, error) {
	t, err := checkTable("table", table)
	if err != nil {
		return nil, fmt.Errorf("netnsx: routes of table %d in %s: %w", table, ns, err)
	}
	var out []Route
	err = ns.use("routes", ns, func(c *rtnl.Conn, _ int) error {
		ls, err := c.Links()
		if err != nil {
			return err
		}
		byIdx := make(map[int]*rtnl.Link, len(ls))
		for _, l := range ls {
			byIdx[l.Index] = l
		}
		out, err = routes(c, byIdx, t)
		return err
	})
	return out, err
}

// use runs fn with the link's namespace connection; errors read "netnsx: op link: ...".
func (l *Link) use(op string, fn func(c *rtnl.Conn) error) error {
	if l == nil {
		return fmt.Errorf("netnsx: %s: %w", op, errdefs.Invalid("nil link"))
	}
	return l.ns.use(op, l, func(c *rtnl.Conn, _ int) error { return fn(c) })
}

// Up brings the link up, as `ip link set dev NAME up` does.
func (l *Link) Up() error {
	up := true
	return l.use("up", func(c *rtnl.Conn) error { return c.LinkSet(l.index, rtnl.LinkChange{Up: &up}) })
}

// Down takes the link down.
func (l *Link) Down() error {
	down := false
	return l.use("down", func(c *rtnl.Conn) error { return c.LinkSet(l.index, rtnl.LinkChange{Up: &down}) })
}

// AddAddr adds an address, as `ip addr add P dev NAME` does.
func (l *Link) AddAddr(p netip.Prefix) error {
	if err := check.Prefix("address", p); err != nil {
		return fmt.Errorf("netnsx: add address %s: %w", l, err)
	}
	return l.use("add address "+p.String()+" to", func(c *rtnl.Conn) error { return addAddr(c, l.index, p) })
}

// Addrs returns the link's addresses, IPv4 and IPv6, in the kernel's order.
func (l *Link) Addrs() ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := l.use("addresses of", func(c *rtnl.Conn) error {
		as, err := c.Addrs(l.index)
		for _, a := range as {
			out = append(out, a.Prefix)
		}
		return err
	})
	return out, err
}

// SetMaster makes the link a port of master, a bridge in the same namespace, as
// `ip link set dev NAME master BRIDGE` does; nil releases it, as `ip link set dev NAME
// nomaster` does ([Link.NoMaster] says so by name), and a link with no master is left
// as it is.
func (l *Link) SetMaster(master *Link) error {
	idx := 0
	if master != nil {
		if err := checkMaster(l, master); err != nil {
			return fmt.Errorf("netnsx: set master of %s: %w", l, err)
		}
		idx = master.index
	}
	return l.use("set master of", func(c *rtnl.Conn) error { return c.LinkSet(l.index, rtnl.LinkChange{Master: &idx}) })
}

func checkMaster(l, master *Link) error {
	if master.kind != "bridge" {
		return errdefs.Invalid("master %s is a %q link, not a bridge", master, master.kind)
	}
	if l == nil {
		return errdefs.Invalid("nil link")
	}
	if l.kind == "bridge" { // the kernel says ELOOP
		return errdefs.Invalid("%s is a bridge, and a bridge cannot be a bridge port", l)
	}
	if !same(l.ns, master.ns) {
		return errdefs.Invalid("master %s is in namespace %s, not in %s", master, master.ns, l.ns)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (l *Link) SetMTU(mtu int) error {
	if err := check.MTU("MTU", mtu); err != nil || mtu == 0 {
		if err == nil {
			err = errdefs.Invalid("MTU 0")
		}
		return fmt.Errorf("netnsx: set mtu of %s: %w", l, err)
	}
	return l.use("set mtu of", func(c *rtnl.Conn) error { return c.LinkSet(l.index, rtnl.LinkChange{MTU: mtu}) })
}

// HardwareAddr returns the link's MAC address.
func (l *Link) HardwareAddr() (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := l.use("hardware address of", func(c *rtnl.Conn) error {
		r, err := c.LinkByIndex(l.index)
		if err == nil {
			mac = r.HardwareAddr
		}
		return err
	})
	return mac, err
}

// Delete deletes the link; deleting one end of a veth pair deletes both.
func (l *Link) Delete() error {
	return l.use("delete", func(c *rtnl.Conn) error { return c.LinkDel(l.index) })
}

// WaitReady waits until the kernel carries traffic on the link: operationally up and its
// queueing attached. A veth that was just brought up drops packets until then.
// It polls until ctx ends; the error then wraps unix.ETIMEDOUT for a deadline, or
// ctx's error.
func (l *Link) WaitReady(ctx context.Context) error {
	return l.use("wait for", func(c *rtnl.Conn) error { return rtnl.WaitReady(ctx, c, l.index) })
}

// AddNeighbor adds or replaces a permanent neighbour (ARP or NDP) entry on the link, as
// `ip neigh replace IP lladdr MAC dev NAME nud permanent` does. Permanent entries do not
// count against the kernel's neighbour-table limits (gc_thresh3, 1024 by default),
// which are shared by every namespace on the machine.
func (l *Link) AddNeighbor(ip netip.Addr, mac net.HardwareAddr) error {
	if err := checkNeighbor(ip, mac); err != nil {
		return fmt.Errorf("netnsx: add neighbor %s to %s: %w", ip, l, err)
	}
	return l.use("add neighbor "+ip.String()+" to", func(c *rtnl.Conn) error {
		return c.NeighAdd(neighEntry(l.index, ip, mac), rtnl.NeighReplace)
	})
}

// RemoveNeighbor removes the neighbour entry for ip from the link.
func (l *Link) RemoveNeighbor(ip netip.Addr) error {
	if err := checkNeighbor(ip, nil); err != nil {
		return fmt.Errorf("netnsx: remove neighbor %s from %s: %w", ip, l, err)
	}
	return l.use("remove neighbor "+ip.String()+" from", func(c *rtnl.Conn) error {
		return c.NeighDel(neighEntry(l.index, ip, nil))
	})
}

func checkNeighbor(ip netip.Addr, mac net.HardwareAddr) error {
	if err := check.Unicast("IP", ip); err != nil {
		return err
	}
	if mac == nil {
		return nil
	}
	return check.MAC("MAC", mac)
}

func neighEntry(index int, ip netip.Addr, mac net.HardwareAddr) rtnl.Neigh {
	fam := unix.AF_INET
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	return rtnl.Neigh{Family: fam, Index: index, State: unix.NUD_PERMANENT, HardwareAddr: mac, IP: ip}
}
