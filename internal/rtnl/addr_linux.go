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
	_, err := c.exec(addrAddRequest(index, p), 0)
	return err
}

func addrAddRequest(index int, p netip.Prefix) *nl.NetlinkRequest {
	req, msg := addrRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, index, p)
	if p.Addr().Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	if p.Addr().IsLoopback() {
		msg.Scope = unix.RT_SCOPE_HOST // as ip does; the kernel refuses 127/8 in scope global
	}
	return req
}

// addrRequest builds an address request for p on the link with that index, IFA_LOCAL
// and IFA_ADDRESS both p's address, as ip sends them; msg is its header, still to fill.
func addrRequest(typ, flags, index int, p netip.Prefix) (*nl.NetlinkRequest, *nl.IfAddrmsg) {
	msg := nl.NewIfAddrmsg(family(p.Addr()))
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(p.Bits())
	ip := p.Addr().AsSlice()
	return newRequest(typ, unix.NLM_F_ACK|flags, msg, nl.NewRtAttr(unix.IFA_LOCAL, ip), nl.NewRtAttr(unix.IFA_ADDRESS, ip)), msg
}

// AddrDel removes p from the link with that index, as `ip addr del` does: the address
// and its prefix length must both match (EADDRNOTAVAIL otherwise).
func (c *Conn) AddrDel(index int, p netip.Prefix) error {
	_, err := c.exec(addrDelRequest(index, p), 0)
	return err
}

func addrDelRequest(index int, p netip.Prefix) *nl.NetlinkRequest {
	req, _ := addrRequest(unix.RTM_DELADDR, 0, index, p)
	return req
}

// Addr is one interface address.
type Addr struct {
	Index  int
	Prefix netip.Prefix
}

// Addrs returns the addresses of the link with that index, or of every link for 0.
func (c *Conn) Addrs(index int) ([]Addr, error) {
	msgs, err := c.dump(addrDumpRequest(), unix.RTM_NEWADDR)
	if err != nil {
		return nil, err
	}
	var out []Addr
	for _, m := range msgs {
		if a, ok := parseAddr(m); ok && (index == 0 || a.Index == index) {
			out = append(out, a)
		}
	}
	return out, nil
}

func addrDumpRequest() *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETADDR, nl.NewIfAddrmsg(unix.AF_UNSPEC))
}

// parseAddr decodes an RTM_NEWADDR message; false if it is too short or has no address.
func parseAddr(m []byte) (Addr, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return Addr{}, false
	}
	hdr := nl.DeserializeIfAddrmsg(m)
	a := attrs(m, unix.SizeofIfAddrmsg)
	raw := a[unix.IFA_LOCAL] // the local address on point-to-point links too
	if raw == nil {
		raw = a[unix.IFA_ADDRESS]
	}
	ip, ok := netip.AddrFromSlice(raw)
	if !ok || int(hdr.Prefixlen) > ip.BitLen() {
		return Addr{}, false
	}
	return Addr{Index: int(hdr.Index), Prefix: netip.PrefixFrom(ip, int(hdr.Prefixlen))}, true
}
