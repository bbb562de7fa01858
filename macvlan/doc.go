// Package macvlan creates macvlan links — Docker's other common network driver: a
// container's interface with a MAC address of its own, stacked on a parent device of
// the host and made directly inside the container's namespace under its final name:
//
//	mv, err := macvlan.Create(host, macvlan.Config{
//		Name: "eth0", Parent: uplink, Mode: macvlan.Bridge, NS: c1,
//		Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.50.2/24")},
//	})
//
// replaces `ip link add link eth1 name mv0 netns container-1 type macvlan mode bridge`,
// `ip -n container-1 link set mv0 name eth0`, `ip -n container-1 addr add ... dev eth0`
// and `ip -n container-1 link set eth0 up`. The zero Mode is VEPA, as it is for
// `ip link add ... type macvlan` without a mode; Docker's macvlan driver uses Bridge.
//
// Macvlan links on one parent in Bridge mode reach each other directly; in VEPA mode
// their traffic goes out of the parent and must be turned back by the switch beyond it;
// in Private mode they never reach each other; Passthru gives the parent's single
// macvlan the parent's own traffic. Traffic between a macvlan and its own parent never
// passes, in any mode: that is the kernel's design, not this package's.
package macvlan
