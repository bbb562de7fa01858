package vxlan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
)

// Create creates a VXLAN device in ns, up and attached to its master, and adds its
// addresses. If any step fails, the device is removed.
func Create(ns *netnsx.NS, cfg Config) (*Device, error) {
	op := errdefs.Op("create", cfg.Name)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("vxlan: %s: %w", op, err)
	}
	// AddLink checks this too, but the underlay's lookup comes first: refuse before it.
	if m := cfg.Master; m != nil && ns != nil && !ns.SameNamespace(m.NS()) {
		return nil, fmt.Errorf("vxlan: %s: %w", op, errdefs.Invalid("Master %s is in namespace %s, not in %s", m.Name(), m.NS(), ns))
	}
	s := spec{cfg: &cfg}
	if cfg.Underlay != "" {
		err := ns.Netlink(func(c *rtnl.Conn, _ int) error {
			u, err := c.LinkByName(cfg.Underlay)
			if err == nil {
				s.underlay = u.Index
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("vxlan: %s: underlay %s: %w", op, cfg.Underlay, errdefs.Kernel(err, ""))
		}
	}
	l, err := ns.AddLink(s)
	if err != nil {
		return nil, fmt.Errorf("vxlan: %s: %w", op, err)
	}
	return &Device{Link: l, ipv6: cfg.is6()}, nil
}

// spec is a checked Config and its underlay's index, as netnsx adds it.
type spec struct {
	cfg      *Config
	underlay int
}

func (s spec) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	c := s.cfg
	k := kind.Info{Kind: "vxlan", Data: data(c)}
	if s.underlay != 0 {
		k.Data = append(k.Data, kind.U32(unix.IFLA_VXLAN_LINK, uint32(s.underlay)))
	}
	return netnsx.LinkAttrs{Name: c.Name, MTU: c.MTU, HardwareAddr: c.HardwareAddr, Master: c.Master, Addrs: c.Addrs}, k
}

// data encodes the config as IFLA_INFO_DATA, every field explicit so that the kernel's
// defaults never decide for us.
func data(cfg *Config) []kind.Attr {
	learning := uint8(1)
	if cfg.DisableLearning {
		learning = 0
	}
	port := cfg.Port
	if port == 0 {
		port = LinuxPort
	}
	attrs := []kind.Attr{
		kind.U32(unix.IFLA_VXLAN_ID, cfg.VNI),
		kind.BE16(unix.IFLA_VXLAN_PORT, port),
		kind.U8(unix.IFLA_VXLAN_LEARNING, learning),
		kind.U8(unix.IFLA_VXLAN_TTL, cfg.TTL),
	}
	if cfg.Proxy {
		attrs = append(attrs, kind.U8(unix.IFLA_VXLAN_PROXY, 1))
	}
	if a := cfg.Local; a.IsValid() {
		attrs = append(attrs, kind.Attr{Type: pick(a, unix.IFLA_VXLAN_LOCAL, unix.IFLA_VXLAN_LOCAL6), Value: a.AsSlice()})
	}
	if a := cfg.Group; a.IsValid() {
		attrs = append(attrs, kind.Attr{Type: pick(a, unix.IFLA_VXLAN_GROUP, unix.IFLA_VXLAN_GROUP6), Value: a.AsSlice()})
	}
	return attrs
}

func pick(a netip.Addr, v4, v6 uint16) uint16 {
	if a.Is4() {
		return v4
	}
	return v6
}

// Open returns the VXLAN device called name in ns. A link that is not a VXLAN device is
// ErrInvalid.
func Open(ns *netnsx.NS, name string) (*Device, error) {
	op := errdefs.Op("open", name)
	if err := check.IfName("name", name); err != nil {
		return nil, fmt.Errorf("vxlan: %s: %w", op, err)
	}
	var dev *Device
	err := ns.Netlink(func(c *rtnl.Conn, _ int) error {
		l, err := c.LinkByName(name)
		if err != nil {
			return err
		}
		if l.Kind != "vxlan" {
			return errdefs.Invalid("%s is a %q link, not a VXLAN device", name, l.Kind)
		}
		inf := rtnl.ParseVXLAN(l.Data)
		dev = &Device{Link: ns.LinkOf(l), ipv6: inf.Local.Is6() || inf.Group.Is6()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vxlan: %s: %w", op, errdefs.Kernel(err, ""))
	}
	return dev, nil
}

// op names an operation on one value for error messages, leaving out a value that would
// print as noise ("invalid IP", an empty MAC).
func op(verb string, v fmt.Stringer, prep string) string {
	s := v.String()
	if s == "" || s == "invalid IP" {
		return verb + " " + prep
	}
	return verb + " " + s + " " + prep
}

// name is the device's name, safe on a nil device for error messages.
func (d *Device) name() string {
	if d == nil || d.Link == nil {
		return "<nil>"
	}
	return d.Link.Name()
}

// use runs fn with the device's connection; errors read "vxlan: op dev: ...".
func (d *Device) use(op string, fn func(c *rtnl.Conn) error) error {
	if d == nil || d.Link == nil {
		return fmt.Errorf("vxlan: %s: %w", op, errdefs.Invalid("nil device"))
	}
	err := d.NS().Netlink(func(c *rtnl.Conn, _ int) error { return fn(c) })
	if err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", op, d.name(), errdefs.Kernel(err, "CAP_NET_ADMIN"))
	}
	return nil
}

// selfEntry is an entry in the device's own forwarding table.
func (d *Device) selfEntry(mac net.HardwareAddr, dst netip.Addr) rtnl.Neigh {
	return rtnl.Neigh{Family: unix.AF_BRIDGE, Index: d.Index(), State: unix.NUD_PERMANENT, Flags: unix.NTF_SELF, HardwareAddr: mac, IP: dst}
}

// AddRemote adds a VTEP to the flood list, as
// `bridge fdb append 00:00:00:00:00:00 dst VTEP dev NAME` does. Adding one already
// listed is not an error.
func (d *Device) AddRemote(vtep netip.Addr) error {
	o := op("add remote", vtep, "to")
	if err := d.checkVTEP(vtep); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	return d.use(o, func(c *rtnl.Conn) error {
		return ignore(c.NeighAdd(d.selfEntry(rtnl.ZeroMAC, vtep), rtnl.NeighAppend), unix.EEXIST)
	})
}

// RemoveRemote removes a VTEP from the flood list. Removing one not listed is not an
// error, as with the kernel.
func (d *Device) RemoveRemote(vtep netip.Addr) error {
	o := op("remove remote", vtep, "from")
	if err := d.checkVTEP(vtep); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	return d.use(o, func(c *rtnl.Conn) error {
		return c.NeighDel(d.selfEntry(rtnl.ZeroMAC, vtep))
	})
}

// Remotes returns the flood list.
func (d *Device) Remotes() ([]netip.Addr, error) {
	var out []netip.Addr
	err := d.use("remotes of", func(c *rtnl.Conn) (err error) {
		out, err = remotes(c, d.Index())
		return err
	})
	return out, err
}

func remotes(c *rtnl.Conn, index int) ([]netip.Addr, error) {
	ns, err := c.Neighs(unix.AF_BRIDGE)
	return rtnl.Remotes(ns, index), err
}

// SetRemotes makes the flood list exactly vteps: it adds the missing and removes the
// stale, leaving the rest untouched. An empty list removes every remote.
func (d *Device) SetRemotes(vteps []netip.Addr) error {
	want := make(map[netip.Addr]bool, len(vteps))
	for _, v := range vteps {
		if err := d.checkVTEP(v); err != nil {
			return fmt.Errorf("vxlan: set remotes of %s: %w", d.name(), err)
		}
		want[v] = true
	}
	return d.use("set remotes of", func(c *rtnl.Conn) error {
		have, err := remotes(c, d.Index())
		if err != nil {
			return err
		}
		for _, h := range have {
			if want[h] {
				delete(want, h)
			} else if err := ignore(c.NeighDel(d.selfEntry(rtnl.ZeroMAC, h)), unix.ENOENT); err != nil {
				return fmt.Errorf("remove %s: %w", h, err)
			}
		}
		for _, v := range vteps { // in the caller's order
			if want[v] {
				if err := ignore(c.NeighAdd(d.selfEntry(rtnl.ZeroMAC, v), rtnl.NeighAppend), unix.EEXIST); err != nil {
					return fmt.Errorf("add %s: %w", v, err)
				}
				delete(want, v)
			}
		}
		return nil
	})
}

// AddFDB sends frames for mac to one VTEP, as
// `bridge fdb replace MAC dst VTEP dev NAME self permanent` does. When the device is a
// bridge port, the bridge gets a static entry for mac on it too, so the bridge forwards
// to the device instead of flooding every port.
func (d *Device) AddFDB(mac net.HardwareAddr, vtep netip.Addr) error {
	o := op("add fdb", mac, "to")
	if err := check.UnicastMAC("MAC", mac); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	if err := d.checkVTEP(vtep); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	return d.use(o, func(c *rtnl.Conn) error {
		if err := c.NeighAdd(d.selfEntry(mac, vtep), rtnl.NeighReplace); err != nil {
			return err
		}
		l, err := c.LinkByIndex(d.Index())
		if err != nil || l.Master == 0 {
			return err
		}
		return c.NeighAdd(masterEntry(d.Index(), mac), rtnl.NeighReplace)
	})
}

// masterEntry is a static entry in the bridge's table ("master static"); NUD_PERMANENT
// there would mean "local", delivered to the bridge itself.
func masterEntry(index int, mac net.HardwareAddr) rtnl.Neigh {
	return rtnl.Neigh{Family: unix.AF_BRIDGE, Index: index, State: unix.NUD_NOARP, Flags: unix.NTF_MASTER, HardwareAddr: mac}
}

// RemoveFDB removes the entries for mac that AddFDB made.
func (d *Device) RemoveFDB(mac net.HardwareAddr) error {
	o := op("remove fdb", mac, "from")
	if err := check.UnicastMAC("MAC", mac); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	return d.use(o, func(c *rtnl.Conn) error {
		if err := c.NeighDel(d.selfEntry(mac, netip.Addr{})); err != nil {
			return err
		}
		l, err := c.LinkByIndex(d.Index())
		if err != nil || l.Master == 0 {
			return err
		}
		return ignore(c.NeighDel(masterEntry(d.Index(), mac)), unix.ENOENT)
	})
}

// FDB returns the device's forwarding entries — flood entries (all-zero MAC), static
// and learned ones, and, for a bridge port, the bridge's entries on it (Self false) — as
// `bridge fdb show dev NAME` lists them.
func (d *Device) FDB() ([]netnsx.FDBEntry, error) {
	if d == nil || d.Link == nil {
		return nil, fmt.Errorf("vxlan: fdb of: %w", errdefs.Invalid("nil device"))
	}
	return d.Link.FDB()
}

// AddNeighbor adds a permanent neighbour entry on the device, as
// `ip neigh replace IP lladdr MAC dev NAME nud permanent` does: with Proxy, the device
// answers ARP (IPv4) and neighbour solicitations (IPv6) for ip from it.
func (d *Device) AddNeighbor(ip netip.Addr, mac net.HardwareAddr) error {
	o := op("add neighbor", ip, "to")
	if err := check.Unicast("IP", ip); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	if err := check.UnicastMAC("MAC", mac); err != nil {
		return fmt.Errorf("vxlan: %s %s: %w", o, d.name(), err)
	}
	return d.use(o, func(c *rtnl.Conn) error {
		fam := unix.AF_INET
		if ip.Is6() {
			fam = unix.AF_INET6
		}
		return c.NeighAdd(rtnl.Neigh{Family: fam, Index: d.Index(), State: unix.NUD_PERMANENT, HardwareAddr: mac, IP: ip}, rtnl.NeighReplace)
	})
}

// ignore drops one errno that means "already as asked".
func ignore(err error, errno unix.Errno) error {
	if errors.Is(err, errno) {
		return nil
	}
	return err
}
