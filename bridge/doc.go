// Package bridge creates Linux bridges — the br0 of the article and of Docker — and
// attaches ports to them:
//
//	br, err := bridge.Create(ns, bridge.Config{
//		Name:  "br0",
//		Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.1/16")},
//	})
//
// replaces `brctl addbr br0`, `ip addr add 172.16.1.1/16 dev br0` and
// `ip link set dev br0 up`. A [Bridge] embeds its *netnsx.Link, so every link method
// (Up, AddAddr, Delete, ...) works on it too.
package bridge
