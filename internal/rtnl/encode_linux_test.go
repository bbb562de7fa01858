package rtnl

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// The golden requests. Each is the exact bytes the package sends, sequence number 0 (exec
// sets it when sending), in the byte order of the little-endian machines the goldens
// were made and checked on. A request is a struct nlmsghdr (len u32, type u16, flags u16,
// seq u32, pid u32) and a fixed header of its family, then attributes: struct rtattr
// (len u16 counting its 4 header bytes, type u16), the value, padding to 4 bytes. Every
// golden file was decoded by hand against linux/netlink.h, linux/rtnetlink.h,
// linux/if_link.h, linux/if_addr.h, linux/neighbour.h and linux/veth.h; the comment of
// each case says what was found there. Flags: REQUEST 0x1, ACK 0x4, ECHO 0x8, DUMP
// 0x300, REPLACE 0x100, EXCL 0x200, CREATE 0x400, APPEND 0x800.
//
// Four were also compared with what iproute2 sends for the same thing (strace -xx):
// link_add_bridge (`ip link add br0 mtu 1400 address 02:00:00:00:00:01 type bridge
// stp_state 1 vlan_filtering 1`) and link_add_vxlan (`ip link add vxlan0 type vxlan id
// 4096 dstport 4789 nolearning ttl 0 proxy local 10.0.0.1 dev eth0`) have the same
// length and attributes, in another order, and no IFF_UP or NLM_F_ECHO; route_add_via
// (`ip route add 10.1.0.0/16 via G dev D`) has the same header and attributes in the same
// order; neigh_add_fdb_append (`bridge fdb append 00:00:00:00:00:00 dev D dst 192.0.2.2
// self permanent`) differs only in the state, which bridge sets to
// NUD_NOARP|NUD_PERMANENT.
var goldens = []struct {
	name string
	req  func() *nl.NetlinkRequest
}{
	// RTM_NEWLINK (16), REQUEST|ACK|ECHO|EXCL|CREATE (0x60d), 96 bytes. ifinfomsg:
	// AF_UNSPEC, index 0, flags = change = IFF_UP (1). IFLA_IFNAME (3) "br0\0";
	// IFLA_MTU (4) 1400; IFLA_ADDRESS (1) 02:00:00:00:00:01; IFLA_LINKINFO (18) {
	// IFLA_INFO_KIND (1) "bridge" (not zero-terminated, as ip sends it); IFLA_INFO_DATA (2)
	// { IFLA_BR_STP_STATE (5) u32 1; IFLA_BR_VLAN_FILTERING (7) u8 1 } }.
	{"link_add_bridge", func() *nl.NetlinkRequest {
		return linkAddRequest(&LinkSpec{Name: "br0", MTU: 1400, HardwareAddr: mac(1), Up: true, Kind: "bridge",
			Data: []*nl.RtAttr{
				nl.NewRtAttr(unix.IFLA_BR_STP_STATE, nl.Uint32Attr(1)),
				nl.NewRtAttr(unix.IFLA_BR_VLAN_FILTERING, nl.Uint8Attr(1)),
			}})
	}},
	// RTM_NEWLINK, flags 0x60d, 136 bytes. ifinfomsg: IFF_UP set and changed.
	// IFLA_IFNAME "veth0"; IFLA_MTU 1500; IFLA_MASTER (10) 7; IFLA_LINKINFO {
	// IFLA_INFO_KIND "veth"; IFLA_INFO_DATA { VETH_INFO_PEER (1) { a second ifinfomsg,
	// all zero (the peer is never up at creation); IFLA_IFNAME "veth1"; IFLA_MTU 1500;
	// IFLA_ADDRESS 02:00:00:00:00:02; IFLA_NET_NS_FD (28) 9 } } }.
	{"link_add_veth", func() *nl.NetlinkRequest {
		return linkAddRequest(&LinkSpec{Name: "veth0", MTU: 1500, Up: true, Master: 7, Kind: "veth",
			Peer: &LinkSpec{Name: "veth1", MTU: 1500, HardwareAddr: mac(2), NSFd: 9}})
	}},
	// RTM_NEWLINK, flags 0x60d, 120 bytes. ifinfomsg: IFF_UP set and changed.
	// IFLA_IFNAME "vxlan0"; IFLA_LINKINFO { IFLA_INFO_KIND "vxlan"; IFLA_INFO_DATA {
	// IFLA_VXLAN_ID (1) 4096; IFLA_VXLAN_PORT (15) 4789 big-endian (12 b5);
	// IFLA_VXLAN_LEARNING (7) 0; IFLA_VXLAN_TTL (5) 0; IFLA_VXLAN_PROXY (11) 1;
	// IFLA_VXLAN_LOCAL (4) 10.0.0.1; IFLA_VXLAN_LINK (3) 2 } }, as the vxlan package
	// builds them.
	{"link_add_vxlan", func() *nl.NetlinkRequest {
		return linkAddRequest(&LinkSpec{Name: "vxlan0", Up: true, Kind: "vxlan",
			Data: []*nl.RtAttr{
				nl.NewRtAttr(unix.IFLA_VXLAN_ID, nl.Uint32Attr(4096)),
				nl.NewRtAttr(unix.IFLA_VXLAN_PORT, nl.Uint16Attr(nl.Swap16(4789))),
				nl.NewRtAttr(unix.IFLA_VXLAN_LEARNING, nl.Uint8Attr(0)),
				nl.NewRtAttr(unix.IFLA_VXLAN_TTL, nl.Uint8Attr(0)),
				nl.NewRtAttr(unix.IFLA_VXLAN_PROXY, nl.Uint8Attr(1)),
				nl.NewRtAttr(unix.IFLA_VXLAN_LOCAL, netip.MustParseAddr("10.0.0.1").AsSlice()),
				nl.NewRtAttr(unix.IFLA_VXLAN_LINK, nl.Uint32Attr(2)),
			}})
	}},
	// RTM_NEWLINK, flags 0x60d, 40 bytes: a down link with no kind. ifinfomsg all zero;
	// IFLA_IFNAME "lo1"; no IFLA_LINKINFO.
	{"link_add_plain", func() *nl.NetlinkRequest {
		return linkAddRequest(&LinkSpec{Name: "lo1"})
	}},
	// RTM_GETLINK (18), REQUEST|ACK (0x5), 52 bytes. ifinfomsg all zero; IFLA_IFNAME
	// "eth0"; IFLA_EXT_MASK (29) RTEXT_FILTER_SKIP_STATS (8).
	{"link_by_name", func() *nl.NetlinkRequest { return linkByNameRequest("eth0") }},
	// RTM_GETLINK, flags 0x5, 40 bytes. ifinfomsg index 3; IFLA_EXT_MASK 8.
	{"link_by_index", func() *nl.NetlinkRequest { return linkByIndexRequest(3) }},
	// RTM_GETLINK, REQUEST|DUMP (0x301), 40 bytes. ifinfomsg all zero; IFLA_EXT_MASK 8.
	{"link_dump", linkDumpRequest},
	// RTM_NEWLINK, REQUEST|ACK (0x5), 48 bytes. ifinfomsg index 4, flags = change =
	// IFF_UP; IFLA_MTU 9000; IFLA_MASTER 2.
	{"link_set_up_mtu_master", func() *nl.NetlinkRequest {
		up, master := true, 2
		return linkSetRequest(4, LinkChange{Up: &up, MTU: 9000, Master: &master})
	}},
	// RTM_NEWLINK, flags 0x5, 40 bytes. ifinfomsg index 4, flags 0, change IFF_UP (down);
	// IFLA_MASTER 0 (released from its bridge).
	{"link_set_down_nomaster", func() *nl.NetlinkRequest {
		down, none := false, 0
		return linkSetRequest(4, LinkChange{Up: &down, Master: &none})
	}},
	// RTM_NEWLINK, flags 0x5, 64 bytes. ifinfomsg index 4, flags and change 0;
	// IFLA_IFNAME "eth1\0"; IFLA_ADDRESS 02:00:00:00:00:05; IFLA_NET_NS_FD (28) 9. `ip
	// link set dev X name eth1 address 02:00:00:00:00:05 netns N` in one request (netnsx
	// sends each alone).
	{"link_set_name_mac_netns", func() *nl.NetlinkRequest {
		return linkSetRequest(4, LinkChange{Name: "eth1", HardwareAddr: mac(5), NSFd: 9})
	}},
	// RTM_GETLINK, flags 0x5, 32 bytes. ifinfomsg index 3 and no IFLA_EXT_MASK: the
	// reply carries IFLA_STATS64 (`ip -s link show`).
	{"link_stats", func() *nl.NetlinkRequest { return linkStatsRequest(3) }},
	// RTM_DELLINK (17), flags 0x5, 32 bytes. ifinfomsg index 5.
	{"link_del", func() *nl.NetlinkRequest { return linkDelRequest(5) }},
	// RTM_GETNSID (90), flags 0x5, 28 bytes. struct rtgenmsg AF_UNSPEC padded to 4;
	// NETNSA_FD (3) 7.
	{"nsid", func() *nl.NetlinkRequest { return nsidRequest(7) }},

	// RTM_NEWADDR (20), REQUEST|ACK|EXCL|CREATE (0x605), 40 bytes. ifaddrmsg: AF_INET (2),
	// prefixlen 24, flags 0, scope 0 (universe), index 2; IFA_LOCAL (2) and IFA_ADDRESS
	// (1) 10.0.0.1.
	{"addr_add_v4", func() *nl.NetlinkRequest { return addrAddRequest(2, netip.MustParsePrefix("10.0.0.1/24")) }},
	// RTM_NEWADDR, flags 0x605, 64 bytes. ifaddrmsg: AF_INET6 (10), prefixlen 64, flags
	// IFA_F_NODAD (2), scope 0, index 3; IFA_LOCAL and IFA_ADDRESS fd00::1.
	{"addr_add_v6", func() *nl.NetlinkRequest { return addrAddRequest(3, netip.MustParsePrefix("fd00::1/64")) }},
	// RTM_NEWADDR, flags 0x605, 40 bytes. ifaddrmsg: AF_INET, prefixlen 8, scope
	// RT_SCOPE_HOST (254), index 1; IFA_LOCAL and IFA_ADDRESS 127.0.0.2.
	{"addr_add_loopback", func() *nl.NetlinkRequest { return addrAddRequest(1, netip.MustParsePrefix("127.0.0.2/8")) }},
	// RTM_DELADDR (21), REQUEST|ACK (0x5), 40 bytes. ifaddrmsg: AF_INET, prefixlen 24,
	// flags 0, scope 0, index 2; IFA_LOCAL and IFA_ADDRESS 10.0.0.1, as `ip addr del
	// 10.0.0.1/24 dev D` sends them (IFA_ADDRESS makes the kernel match the length too).
	{"addr_del_v4", func() *nl.NetlinkRequest { return addrDelRequest(2, netip.MustParsePrefix("10.0.0.1/24")) }},
	// RTM_DELADDR, flags 0x5, 64 bytes. ifaddrmsg: AF_INET6, prefixlen 64, flags 0 (no
	// NODAD: nothing to detect on removal), index 3; IFA_LOCAL and IFA_ADDRESS fd00::1.
	{"addr_del_v6", func() *nl.NetlinkRequest { return addrDelRequest(3, netip.MustParsePrefix("fd00::1/64")) }},
	// RTM_GETADDR (22), flags 0x301, 24 bytes. ifaddrmsg all zero (AF_UNSPEC: every family).
	{"addr_dump", addrDumpRequest},

	// RTM_NEWROUTE (24), flags 0x605, 52 bytes. rtmsg: AF_INET, dst_len 16, src_len 0,
	// tos 0, table RT_TABLE_MAIN (254), protocol RTPROT_BOOT (3), scope universe (0),
	// type RTN_UNICAST (1), flags 0; RTA_DST (1) 10.1.0.0; RTA_GATEWAY (5) 10.0.0.254;
	// RTA_OIF (4) 2.
	{"route_add_via", func() *nl.NetlinkRequest {
		return routeAddRequest(Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), Gateway: netip.MustParseAddr("10.0.0.254"), OIF: 2})
	}},
	// RTM_NEWROUTE, flags 0x605, 36 bytes. rtmsg: AF_INET, dst_len 0, main, boot,
	// universe, unicast; no RTA_DST (the default route); RTA_GATEWAY 10.0.0.1.
	{"route_add_default", func() *nl.NetlinkRequest {
		return routeAddRequest(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1")})
	}},
	// RTM_NEWROUTE, flags 0x605, 56 bytes. rtmsg: AF_INET6, dst_len 64, main, boot,
	// scope RT_SCOPE_LINK (253, no gateway), unicast; RTA_DST fd00:1::; RTA_OIF 3.
	{"route_add_link6", func() *nl.NetlinkRequest {
		return routeAddRequest(Route{Dst: netip.MustParsePrefix("fd00:1::/64"), OIF: 3})
	}},
	// RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE (0x505), 52 bytes. rtmsg: AF_INET, dst_len
	// 16, table 100 in the header (below 256), boot, universe, unicast; RTA_DST 10.1.0.0;
	// RTA_GATEWAY 10.0.0.254; RTA_PRIORITY (6) 20. `ip route replace 10.1.0.0/16 via G
	// table 100 metric 20`.
	{"route_replace_table_metric", func() *nl.NetlinkRequest {
		return routeReplaceRequest(Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), Gateway: netip.MustParseAddr("10.0.0.254"),
			Table: 100, Priority: 20})
	}},
	// RTM_NEWROUTE, flags 0x605, 56 bytes. rtmsg: AF_INET6, dst_len 0, table
	// RT_TABLE_UNSPEC (0), boot, universe, unicast; RTA_TABLE (15) 1000 first, as ip
	// sends a table past 255; RTA_GATEWAY fd00::1; no RTA_DST (default).
	{"route_add_table_big", func() *nl.NetlinkRequest {
		return routeAddRequest(Route{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fd00::1"), Table: 1000})
	}},
	// RTM_DELROUTE (25), REQUEST|ACK (0x5), 52 bytes. rtmsg: AF_INET, dst_len 16, table
	// main, protocol 0, scope RT_SCOPE_NOWHERE (255), type 0: ip route del matches any
	// protocol, scope and type; RTA_DST 10.1.0.0; RTA_OIF 2; RTA_PRIORITY 5.
	{"route_del", func() *nl.NetlinkRequest {
		return routeDelRequest(Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), OIF: 2, Priority: 5})
	}},
	// RTM_GETROUTE (26), flags 0x301, 28 bytes. rtmsg: AF_UNSPEC, table main, protocol
	// boot, scope universe, type unicast (nl.NewRtMsg's defaults; the kernel's dump
	// ignores them).
	{"route_dump", routeDumpRequest},

	// RTM_NEWNEIGH (28), REQUEST|ACK|CREATE|APPEND (0xc05), 48 bytes. ndmsg: AF_BRIDGE
	// (7), pad, index 4, state NUD_PERMANENT (0x80), flags NTF_SELF (2), type 0;
	// NDA_LLADDR (2) 00:00:00:00:00:00; NDA_DST (1) 192.0.2.2. `bridge fdb append 00:00:
	// 00:00:00:00 dev vxlan0 dst 192.0.2.2 self permanent`.
	{"neigh_add_fdb_append", func() *nl.NetlinkRequest {
		return neighAddRequest(Neigh{Family: unix.AF_BRIDGE, Index: 4, State: unix.NUD_PERMANENT, Flags: unix.NTF_SELF,
			HardwareAddr: ZeroMAC, IP: netip.MustParseAddr("192.0.2.2")}, NeighAppend)
	}},
	// RTM_NEWNEIGH, REQUEST|ACK|REPLACE|CREATE (0x505), 40 bytes. ndmsg: AF_BRIDGE, index
	// 4, state NUD_NOARP (0x40), flags NTF_MASTER (4); NDA_LLADDR 02:00:00:00:00:03.
	{"neigh_add_fdb_master", func() *nl.NetlinkRequest {
		return neighAddRequest(Neigh{Family: unix.AF_BRIDGE, Index: 4, State: unix.NUD_NOARP, Flags: unix.NTF_MASTER,
			HardwareAddr: mac(3)}, NeighReplace)
	}},
	// RTM_NEWNEIGH, flags 0x505, 60 bytes. ndmsg: AF_INET6, index 2, state NUD_PERMANENT;
	// NDA_LLADDR 02:00:00:00:00:04; NDA_DST fd00::2. `ip neigh replace`.
	{"neigh_replace_v6", func() *nl.NetlinkRequest {
		return neighAddRequest(Neigh{Family: unix.AF_INET6, Index: 2, State: unix.NUD_PERMANENT,
			HardwareAddr: mac(4), IP: netip.MustParseAddr("fd00::2")}, NeighReplace)
	}},
	// RTM_DELNEIGH (29), REQUEST|ACK (0x5), 48 bytes. ndmsg: AF_BRIDGE, index 4, state
	// NUD_PERMANENT, flags NTF_SELF; NDA_LLADDR zero MAC; NDA_DST 192.0.2.2. The fields
	// the kernel does not key on (Master, VLAN, VNI) are not sent.
	{"neigh_del", func() *nl.NetlinkRequest {
		return neighDelRequest(Neigh{Family: unix.AF_BRIDGE, Index: 4, State: unix.NUD_PERMANENT, Flags: unix.NTF_SELF,
			HardwareAddr: ZeroMAC, IP: netip.MustParseAddr("192.0.2.2"), Master: 9, VLAN: 10, VNI: 11})
	}},
	// RTM_GETNEIGH (30), flags 0x301, 28 bytes. ndmsg: AF_BRIDGE, the rest zero.
	{"neigh_dump", func() *nl.NetlinkRequest { return neighDumpRequest(unix.AF_BRIDGE) }},

	// RTM_NEWQDISC (36), flags 0x605, 56 bytes. tcmsg: AF_UNSPEC, pad, ifindex 3, handle
	// 0x10000 (1:), parent TC_H_ROOT (0xffffffff), info 0; TCA_KIND (1) "tbf\0";
	// TCA_OPTIONS (2, nested) { attribute 1, 4 bytes 01 02 03 04 }.
	{"qdisc_add_options", func() *nl.NetlinkRequest {
		opts := nl.NewRtAttr(nl.TCA_OPTIONS, nil)
		opts.AddRtAttr(1, []byte{1, 2, 3, 4})
		return qdiscAddRequest(QdiscSpec{Index: 3, Handle: 0x10000, Kind: "tbf", Options: opts})
	}},
	// RTM_NEWQDISC, flags 0x605, 48 bytes. tcmsg: ifindex 3, handle 0 (the kernel picks),
	// parent TC_H_ROOT; TCA_KIND "noqueue\0".
	{"qdisc_add_plain", func() *nl.NetlinkRequest {
		return qdiscAddRequest(QdiscSpec{Index: 3, Kind: "noqueue"})
	}},
	// RTM_DELQDISC (37), flags 0x5, 36 bytes. tcmsg: ifindex 3, handle 0x10000, parent
	// TC_H_ROOT.
	{"qdisc_del", func() *nl.NetlinkRequest { return qdiscDelRequest(3, 0x10000) }},
	// RTM_GETQDISC (38), flags 0x301, 36 bytes. tcmsg: ifindex 3, handle and parent 0.
	{"qdisc_dump", func() *nl.NetlinkRequest { return qdiscDumpRequest(3) }},
}

func mac(last byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, last} }

func TestGoldenRequests(t *testing.T) {
	if nl.NativeEndian() != binary.LittleEndian {
		t.Skip("the golden requests are little-endian")
	}
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			got := dumpHex(g.req().Serialize())
			path := filepath.Join("testdata", "golden", g.name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenRequests -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("request differs from %s\ngot:\n%swant:\n%s", path, got, want)
			}
		})
	}
}

// TestGoldenLengths checks what the kernel checks first: nlmsg_len is the length of the
// message, and its attributes fill what follows the fixed header exactly.
func TestGoldenLengths(t *testing.T) {
	hdrs := map[uint16]int{ // the fixed header after nlmsghdr, by message type
		unix.RTM_NEWLINK: unix.SizeofIfInfomsg, unix.RTM_GETLINK: unix.SizeofIfInfomsg, unix.RTM_DELLINK: unix.SizeofIfInfomsg,
		unix.RTM_GETNSID: 4, unix.RTM_NEWADDR: unix.SizeofIfAddrmsg, unix.RTM_DELADDR: unix.SizeofIfAddrmsg, unix.RTM_GETADDR: unix.SizeofIfAddrmsg,
		unix.RTM_NEWROUTE: unix.SizeofRtMsg, unix.RTM_DELROUTE: unix.SizeofRtMsg, unix.RTM_GETROUTE: unix.SizeofRtMsg,
		unix.RTM_NEWNEIGH: sizeofNdmsg, unix.RTM_DELNEIGH: sizeofNdmsg, unix.RTM_GETNEIGH: sizeofNdmsg,
		unix.RTM_NEWQDISC: nl.SizeofTcMsg, unix.RTM_DELQDISC: nl.SizeofTcMsg, unix.RTM_GETQDISC: nl.SizeofTcMsg,
	}
	for _, g := range goldens {
		b := g.req().Serialize()
		if n := int(nl.NativeEndian().Uint32(b)); n != len(b) {
			t.Errorf("%s: nlmsg_len %d, message %d bytes", g.name, n, len(b))
		}
		hdr, ok := hdrs[nl.NativeEndian().Uint16(b[4:])]
		if !ok {
			t.Fatalf("%s: unknown message type", g.name)
		}
		for b = b[unix.SizeofNlMsghdr+hdr:]; len(b) > 0; {
			l := 0
			if len(b) >= unix.SizeofRtAttr {
				l = int(nl.NativeEndian().Uint16(b))
			}
			if l < unix.SizeofRtAttr || align(l) > len(b) {
				t.Errorf("%s: attribute of length %d in %d bytes", g.name, l, len(b))
				break
			}
			b = b[align(l):]
		}
	}
}

// dumpHex writes b 16 bytes a line, in groups of 4, as the goldens are kept.
func dumpHex(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		n := min(16, len(b))
		for i := 0; i < n; i += 4 {
			if i > 0 {
				s.WriteByte(' ')
			}
			s.WriteString(hex.EncodeToString(b[i:min(i+4, n)]))
		}
		s.WriteByte('\n')
		b = b[n:]
	}
	return s.String()
}
