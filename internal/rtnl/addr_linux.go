package rtnl

import (
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// AddrAdd adds p to the link with that index, as `ip addr add` does, except that an
// IPv6 address skips duplicate address detection (IFA_F_NODAD): the topology is private
// and DAD would hold the address tentative, unusable, for about a second.
func (c *Conn) AddrAdd(index int, p netip.Prefix) error {
	return c.addr(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, index, p)
}

// AddrDel removes p from the link with that index.
func (c *Conn) AddrDel(index int, p netip.Prefix) error {
	return c.addr(unix.RTM_DELADDR, unix.NLM_F_ACK, index, p)
}

func (c *Conn) addr(typ, flags, index int, p netip.Prefix) error {
	msg := nl.NewIfAddrmsg(family(p.Addr()))
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(p.Bits())
	ip := p.Addr().AsSlice()
	req := c.request(typ, flags, msg,
		nl.NewRtAttr(unix.IFA_LOCAL, ip), nl.NewRtAttr(unix.IFA_ADDRESS, ip))
	if p.Addr().Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	if p.Addr().IsLoopback() {
		msg.Scope = unix.RT_SCOPE_HOST // as ip does; the kernel refuses 127/8 in scope global
	}
	_, err := c.exec(req, 0)
	return err
}

// Addr is one interface address.
type Addr struct {
	Index  int
	Prefix netip.Prefix
}

// Addrs returns the addresses of the link with that index, or of every link for 0.
func (c *Conn) Addrs(index int) ([]Addr, error) {
	msgs, err := c.dump(unix.RTM_GETADDR, unix.RTM_NEWADDR, nl.NewIfAddrmsg(unix.AF_UNSPEC))
	if err != nil {
		return nil, err
	}
	var out []Addr
	for _, m := range msgs {
		if len(m) < unix.SizeofIfAddrmsg {
			continue
		}
		hdr := nl.DeserializeIfAddrmsg(m)
		if index != 0 && int(hdr.Index) != index {
			continue
		}
		a := attrs(m, unix.SizeofIfAddrmsg)
		raw := a[unix.IFA_LOCAL] // the local address on point-to-point links too
		if raw == nil {
			raw = a[unix.IFA_ADDRESS]
		}
		ip, ok := netip.AddrFromSlice(raw)
		if !ok {
			continue
		}
		out = append(out, Addr{Index: int(hdr.Index), Prefix: netip.PrefixFrom(ip, int(hdr.Prefixlen))})
	}
	return out, nil
}
