package rtnl

import (
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Route is one route of the main table.
type Route struct {
	Dst      netip.Prefix
	Gateway  netip.Addr
	Src      netip.Addr
	OIF      int
	Protocol uint8 // RTPROT_*, read back only: RTPROT_KERNEL for the routes of addresses
}

// RouteAdd adds r to the main table as `ip route add` does (protocol boot; scope link
// when there is no gateway).
func (c *Conn) RouteAdd(r Route) error {
	_, err := c.exec(routeAddRequest(r), 0)
	return err
}

func routeAddRequest(r Route) *nl.NetlinkRequest {
	msg := &nl.RtMsg{RtMsg: unix.RtMsg{
		Family:   uint8(family(r.Dst.Addr())),
		Dst_len:  uint8(r.Dst.Bits()),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	}}
	req := newRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg)
	if r.Dst.Bits() > 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_DST, r.Dst.Addr().AsSlice()))
	}
	if r.Gateway.IsValid() {
		req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, r.Gateway.AsSlice()))
	} else {
		msg.Scope = unix.RT_SCOPE_LINK
	}
	if r.OIF > 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(r.OIF))))
	}
	return req
}

// Routes returns the unicast routes of the main table, IPv4 and IPv6.
func (c *Conn) Routes() ([]Route, error) {
	msgs, err := c.dump(routeDumpRequest(), unix.RTM_NEWROUTE)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, m := range msgs {
		if r, ok := parseRoute(m); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func routeDumpRequest() *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETROUTE, nl.NewRtMsg())
}

// parseRoute decodes an RTM_NEWROUTE message; false if it is too short, not a unicast
// route of the main table, or its destination length exceeds its address.
func parseRoute(m []byte) (Route, bool) {
	if len(m) < unix.SizeofRtMsg {
		return Route{}, false
	}
	hdr := nl.DeserializeRtMsg(m)
	a := attrs(m, unix.SizeofRtMsg)
	table := uint32(hdr.Table)
	if v, ok := a[unix.RTA_TABLE]; ok {
		table = u32(v)
	}
	if table != unix.RT_TABLE_MAIN || hdr.Type != unix.RTN_UNICAST {
		return Route{}, false
	}
	var r Route
	dst := netip.IPv4Unspecified()
	if hdr.Family == unix.AF_INET6 {
		dst = netip.IPv6Unspecified()
	}
	if v, ok := netip.AddrFromSlice(a[unix.RTA_DST]); ok {
		dst = v
	}
	if r.Dst = netip.PrefixFrom(dst, int(hdr.Dst_len)); !r.Dst.IsValid() {
		return Route{}, false
	}
	r.Gateway, _ = netip.AddrFromSlice(a[unix.RTA_GATEWAY])
	r.Src, _ = netip.AddrFromSlice(a[unix.RTA_PREFSRC])
	r.OIF = int(u32(a[unix.RTA_OIF]))
	r.Protocol = hdr.Protocol
	return r, true
}
