package rtnl

import (
	"bytes"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// VXLAN is what the kernel reports of a VXLAN device's configuration.
type VXLAN struct {
	VNI             uint32
	Port            uint16
	Underlay        int // the underlay's index; 0: none
	Local, Group    netip.Addr
	DisableLearning bool
	Proxy           bool
}

// ParseVXLAN decodes a VXLAN link's IFLA_INFO_DATA.
func ParseVXLAN(b []byte) VXLAN {
	a := attrs(b, 0)
	v := VXLAN{VNI: u32(a[unix.IFLA_VXLAN_ID]), Underlay: int(u32(a[unix.IFLA_VXLAN_LINK]))}
	if p := a[unix.IFLA_VXLAN_PORT]; len(p) == 2 {
		v.Port = uint16(p[0])<<8 | uint16(p[1]) // network byte order
	}
	if b := a[unix.IFLA_VXLAN_LEARNING]; len(b) == 1 {
		v.DisableLearning = b[0] == 0
	}
	if b := a[unix.IFLA_VXLAN_PROXY]; len(b) == 1 {
		v.Proxy = b[0] != 0
	}
	for _, k := range []uint16{unix.IFLA_VXLAN_LOCAL, unix.IFLA_VXLAN_LOCAL6} {
		if ip, ok := netip.AddrFromSlice(a[k]); ok {
			v.Local = ip
		}
	}
	for _, k := range []uint16{unix.IFLA_VXLAN_GROUP, unix.IFLA_VXLAN_GROUP6} {
		if ip, ok := netip.AddrFromSlice(a[k]); ok && !ip.IsUnspecified() {
			v.Group = ip
		}
	}
	return v
}

// ZeroMAC keys a VXLAN device's flood entries: frames with no better entry go to every
// VTEP listed under it.
var ZeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Remotes picks the flood list of the VXLAN device with that index out of AF_BRIDGE
// entries.
func Remotes(neighs []Neigh, index int) []netip.Addr {
	var out []netip.Addr
	for _, n := range neighs {
		// A multicast destination is the device's Group, which the kernel floods to by
		// itself: not a remote to list, nor to remove when reconciling.
		if n.Index == index && n.IP.IsValid() && !n.IP.IsMulticast() && bytes.Equal(n.HardwareAddr, ZeroMAC) {
			out = append(out, n.IP)
		}
	}
	return out
}
