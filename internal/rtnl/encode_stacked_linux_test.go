package rtnl

import (
	"github.com/vishvananda/netlink/nl"
)

// The goldens of links made on a parent in another namespace (macvlan), kept apart
// from the list so that kinds add theirs without touching it.
func init() {
	goldens = append(goldens,
		// RTM_NEWLINK (16), flags 0x60d, 88 bytes. ifinfomsg: IFF_UP set and changed.
		// IFLA_IFNAME (3) "eth0\0"; IFLA_LINK (5) u32 7 (the parent, in the sender's
		// namespace); IFLA_NET_NS_FD (28) u32 9; IFLA_LINKINFO (18) { IFLA_INFO_KIND (1)
		// "macvlan"; IFLA_INFO_DATA (2) { IFLA_MACVLAN_MODE (1) u32 4 (BRIDGE) } }.
		struct {
			name string
			req  func() *nl.NetlinkRequest
		}{"link_add_macvlan", func() *nl.NetlinkRequest {
			return linkAddRequest(&LinkSpec{Name: "eth0", Up: true, Link: 7, NSFd: 9, Kind: "macvlan",
				Data: []*nl.RtAttr{nl.NewRtAttr(1, nl.Uint32Attr(4))}})
		}},
		// RTM_DELLINK (17), REQUEST|ACK (0x5), 44 bytes. ifinfomsg all zero (no index);
		// IFLA_IFNAME (3) "eth0\0": the kernel finds the link by name.
		struct {
			name string
			req  func() *nl.NetlinkRequest
		}{"link_del_by_name", func() *nl.NetlinkRequest { return linkDelByNameRequest("eth0") }},
	)
}
