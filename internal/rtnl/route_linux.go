package rtnl

import (
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Route is one unicast route.
type Route struct {
	Dst      netip.Prefix
	Gateway  netip.Addr
	Src      netip.Addr
	OIF      int
	Table    uint32 // 0 is RT_TABLE_MAIN when sending; read back as the kernel says (254)
	Priority uint32 // RTA_PRIORITY, the metric; 0 is not sent (IPv6 then takes 1024)
	Protocol uint8  // RTPROT_*, read back only: RTPROT_KERNEL for the routes of addresses
}

// RouteAdd adds r as `ip route add` does (protocol boot; scope link when there is no
// gateway).
func (c *Conn) RouteAdd(r Route) error {
	_, err := c.exec(routeAddRequest(r), 0)
	return err
}

// RouteReplace adds r or replaces the route of its table with the same destination
// and metric, as `ip route replace` does.
func (c *Conn) RouteReplace(r Route) error {
	_, err := c.exec(routeReplaceRequest(r), 0)
	return err
}

// RouteDel deletes the first route that matches r, as `ip route del` does: the fields
// left zero match any route.
func (c *Conn) RouteDel(r Route) error {
	_, err := c.exec(routeDelRequest(r), 0)
	return err
}

func routeAddRequest(r Route) *nl.NetlinkRequest {
	return routeRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, r)
}

func routeReplaceRequest(r Route) *nl.NetlinkRequest {
	return routeRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, r)
}

// routeDelRequest is what `ip route del` sends: no protocol, type or scope to match
// (RT_SCOPE_NOWHERE means any scope to the kernel).
func routeDelRequest(r Route) *nl.NetlinkRequest {
	return routeRequest(unix.RTM_DELROUTE, 0, r)
}

// routeRequest builds a route request as iproute2's iproute_modify does; a table past
// 255 goes in RTA_TABLE with RT_TABLE_UNSPEC in the header.
func routeRequest(typ, flags int, r Route) *nl.NetlinkRequest {
	msg := &nl.RtMsg{RtMsg: unix.RtMsg{
		Family:  uint8(family(r.Dst.Addr())),
		Dst_len: uint8(r.Dst.Bits()),
		Table:   unix.RT_TABLE_MAIN,
	}}
	if typ == unix.RTM_DELROUTE {
		msg.Scope = unix.RT_SCOPE_NOWHERE
	} else {
		msg.Protocol, msg.Scope, msg.Type = unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST
		if !r.Gateway.IsValid() {
			msg.Scope = unix.RT_SCOPE_LINK
		}
	}
	req := newRequest(typ, unix.NLM_F_ACK|flags, msg)
	if r.Table >= 256 {
		msg.Table = unix.RT_TABLE_UNSPEC
		req.AddData(nl.NewRtAttr(unix.RTA_TABLE, nl.Uint32Attr(r.Table)))
	} else if r.Table > 0 {
		msg.Table = uint8(r.Table)
	}
	if r.Dst.Bits() > 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_DST, r.Dst.Addr().AsSlice()))
	}
	if r.Gateway.IsValid() {
		req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, r.Gateway.AsSlice()))
	}
	if r.OIF > 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_OIF, nl.Uint32Attr(uint32(r.OIF))))
	}
	if r.Priority > 0 {
		req.AddData(nl.NewRtAttr(unix.RTA_PRIORITY, nl.Uint32Attr(r.Priority)))
	}
	return req
}

// Routes returns the unicast routes of the main table, IPv4 and IPv6.
func (c *Conn) Routes() ([]Route, error) { return c.RoutesIn(unix.RT_TABLE_MAIN) }

// RoutesIn returns the unicast routes of one table, IPv4 and IPv6. The kernel dumps
// every table; the others are dropped here.
func (c *Conn) RoutesIn(table uint32) ([]Route, error) {
	msgs, err := c.dump(routeDumpRequest(), unix.RTM_NEWROUTE)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, m := range msgs {
		if r, ok := parseRoute(m); ok && r.Table == table {
			out = append(out, r)
		}
	}
	return out, nil
}

func routeDumpRequest() *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETROUTE, nl.NewRtMsg())
}

// parseRoute decodes an RTM_NEWROUTE message; false if it is too short, not a unicast
// route, or its destination length exceeds its address.
func parseRoute(m []byte) (Route, bool) {
	if len(m) < unix.SizeofRtMsg {
		return Route{}, false
	}
	hdr := nl.DeserializeRtMsg(m)
	a := attrs(m, unix.SizeofRtMsg)
	if hdr.Type != unix.RTN_UNICAST {
		return Route{}, false
	}
	r := Route{Table: uint32(hdr.Table)}
	if v, ok := a[unix.RTA_TABLE]; ok {
		r.Table = u32(v)
	}
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
	r.Priority = u32(a[unix.RTA_PRIORITY])
	r.Protocol = hdr.Protocol
	return r, true
}
