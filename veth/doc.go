// Package veth creates veth pairs — the virtual cable between a container and its
// host — with each end made directly inside its namespace under its final name:
//
//	pair, err := veth.Create(veth.Config{
//		A: veth.End{Name: "veth1", Master: br.Link},
//		B: veth.End{NS: c1, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.2/16")}},
//	})
//
// replaces the article's six steps: `ip link add veth1 type veth peer name veth1p`,
// `ip link set dev veth1 master br0`, `ip link set dev veth1 up`,
// `ip link set veth1p netns container-1`, `ip netns exec container-1 ip link set dev
// veth1p name eth0` and `ip netns exec container-1 ip addr add ... dev eth0` plus `up`.
// Nothing is created in the host and moved, so no name ever clashes with the host's.
package veth
