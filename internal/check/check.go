// Package check validates names and values before any syscall is made, so that a bad
// input fails with an error wrapping netnsx.ErrInvalid that names the field, and never
// reaches the kernel or the file system.
package check

import (
	"net"
	"net/netip"
	"strings"

	"github.com/nstopo/nstopo/internal/errdefs"
)

// Kernel limits the checks mirror.
const (
	IfNameMax = 15    // IFNAMSIZ - 1
	NSNameMax = 255   // NAME_MAX: a namespace name is one file under /run/netns
	MTUMin    = 68    // the IPv4 minimum (RFC 791); the kernel's ETH_MIN_MTU
	MTUMax    = 65535 // ETH_MAX_MTU, the largest a veth, bridge or VXLAN device takes
)

// IfName checks an interface name as the kernel's dev_valid_name does, and also refuses
// '%', which the kernel would silently treat as a template ("eth%d" becomes "eth0").
func IfName(field, name string) error {
	if name == "" {
		return errdefs.Invalid("%s is empty", field)
	}
	if len(name) > IfNameMax {
		return errdefs.Invalid("%s %q is %d bytes, more than %d", field, name, len(name), IfNameMax)
	}
	if name == "." || name == ".." {
		return errdefs.Invalid("%s %q is not a valid interface name", field, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%' {
			return errdefs.Invalid("%s %q has byte %q at %d (want printable ASCII without '/', ':', '%%' or white space)", field, name, c, i)
		}
	}
	return nil
}

// NSName checks a namespace name: one plain file name under /run/netns that `ip netns`
// can list and exec, so printable ASCII without '/' or white space, and not "." or "..".
func NSName(name string) error {
	if name == "" {
		return errdefs.Invalid("namespace name is empty")
	}
	if len(name) > NSNameMax {
		return errdefs.Invalid("namespace name is %d bytes, more than %d", len(name), NSNameMax)
	}
	if name == "." || name == ".." {
		return errdefs.Invalid("namespace name %q escapes /run/netns", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return errdefs.Invalid("namespace name %q has byte %q at %d (want printable ASCII without '/' or white space)", name, c, i)
		}
	}
	return nil
}

// Prefix checks an interface address: a valid prefix whose address is a usable unicast
// address, as Unicast says.
func Prefix(field string, p netip.Prefix) error {
	if !p.IsValid() {
		return errdefs.Invalid("%s: invalid prefix", field)
	}
	return Unicast(field, p.Addr())
}

// Unicast checks a host address: a neighbour, a gateway, a VTEP, an interface's own.
// It is the one unicast test of the module; Prefix and UnicastZone are built on it.
func Unicast(field string, a netip.Addr) error {
	if err := addr(field, a); err != nil {
		return err
	}
	switch {
	case a.IsUnspecified():
		return errdefs.Invalid("%s %s is the unspecified address", field, a)
	case a.IsMulticast():
		return errdefs.Invalid("%s %s is a multicast address", field, a)
	}
	return nil
}

// UnicastZone is Unicast for an address that may name its interface in a zone
// (fe80::1%eth0), as a ping's destination does; the caller resolves the zone.
func UnicastZone(field string, a netip.Addr) error {
	return Unicast(field, a.WithZone(""))
}

// UnicastMAC is MAC for a field that needs an address: nil is refused.
func UnicastMAC(field string, mac net.HardwareAddr) error {
	if mac == nil {
		return errdefs.Invalid("%s is nil", field)
	}
	return MAC(field, mac)
}

// Multicast checks a multicast group address.
func Multicast(field string, a netip.Addr) error {
	if err := addr(field, a); err != nil {
		return err
	}
	if !a.IsMulticast() {
		return errdefs.Invalid("%s %s is not a multicast address", field, a)
	}
	return nil
}

// addr refuses what no address field takes: the zero value, a zone, and an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d), which netip's IsMulticast and the like
// judge by its IPv4 form while the kernel takes it as IPv6 — a group ::ffff:239.1.1.1
// would become a unicast remote.
func addr(field string, a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errdefs.Invalid("%s: invalid address", field)
	case a.Is4In6():
		return errdefs.Invalid("%s %s is an IPv4-mapped IPv6 address; use the IPv4 form", field, a)
	case a.Zone() != "":
		return errdefs.Invalid("%s %s has a zone", field, a)
	}
	return nil
}

// Prefixes checks each prefix and refuses duplicates.
func Prefixes(field string, ps []netip.Prefix) error {
	for i, p := range ps {
		if err := Prefix(field, p); err != nil {
			return err
		}
		for _, q := range ps[:i] {
			if q.Addr() == p.Addr() {
				return errdefs.Invalid("%s lists %s twice", field, p.Addr())
			}
		}
	}
	return nil
}

// MAC checks a unicast Ethernet address. nil means "let the kernel choose" and passes.
func MAC(field string, mac net.HardwareAddr) error {
	if mac == nil {
		return nil
	}
	if len(mac) != 6 {
		return errdefs.Invalid("%s %q is %d bytes, want a 6-byte Ethernet address", field, mac, len(mac))
	}
	if mac[0]&1 != 0 {
		return errdefs.Invalid("%s %s is a multicast address", field, mac)
	}
	if mac[0]|mac[1]|mac[2]|mac[3]|mac[4]|mac[5] == 0 {
		return errdefs.Invalid("%s %s is the all-zero address", field, mac)
	}
	return nil
}

// MTU checks an MTU; 0 means "the kernel's default" and passes.
func MTU(field string, mtu int) error {
	if mtu != 0 && (mtu < MTUMin || mtu > MTUMax) {
		return errdefs.Invalid("%s %d out of range %d..%d", field, mtu, MTUMin, MTUMax)
	}
	return nil
}

// SysctlKey checks a network sysctl key in sysctl(8) form, "net.ipv4.ip_forward": it
// must name a file under /proc/sys/net (the per-namespace part of sysctl), so it starts
// with "net." and its parts are plain names; a '/' inside a part stands for a '.' in an
// interface name, as sysctl(8) writes "net.ipv4.conf.eth0/100.forwarding".
func SysctlKey(key string) error {
	if len(key) > 256 {
		return errdefs.Invalid("sysctl key is %d bytes, more than 256", len(key))
	}
	if !strings.HasPrefix(key, "net.") {
		return errdefs.Invalid("sysctl key %q is not under net.: only network settings belong to a namespace", key)
	}
	for _, part := range strings.Split(key, ".") {
		if part == "" || strings.HasPrefix(part, "/") || strings.HasSuffix(part, "/") || strings.Contains(part, "//") {
			return errdefs.Invalid("sysctl key %q has an empty part", key)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
				return errdefs.Invalid("sysctl key %q has byte %q", key, c)
			}
		}
	}
	return nil
}

// SysctlPath turns a checked key into its file under /proc/sys.
func SysctlPath(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "/", ".")
	}
	return "/proc/sys/" + strings.Join(parts, "/")
}
