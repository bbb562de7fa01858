// Package portmap publishes a port the way `docker run -p 8080:80` does: traffic to a
// port of one namespace — a simulated host, or the real one when handed netnsx.Host() —
// is forwarded to a container's address and port, with nftables DNAT, and removed with
// its handle:
//
//	m, err := portmap.Publish(host, portmap.Config{
//		HostPort: 8080, Dst: netip.MustParseAddrPort("172.16.1.2:80"),
//	})
//	defer m.Remove()
//
// Each mapping is a table of its own in the namespace (family ip or ip6, named
// nstopo-publish-PROTO-PORT-ADDR), made in one nftables transaction and deleted as a
// whole, so a failed Publish leaves nothing and two mappings never touch each other's
// rules; the name makes the kernel refuse a second mapping of the same port (ErrExists).
// A table holds:
//
//   - prerouting (type nat, priority dstnat): traffic arriving from outside for the
//     port — on HostAddr, or on any local address of the namespace when HostAddr is
//     zero — is DNATed to Dst; only while the address is the namespace's own
//     (`fib daddr type local`, Docker's `-m addrtype --dst-type LOCAL`), so traffic
//     the namespace routes on to others is never caught;
//   - output (type nat, priority -100): the same for connections the namespace opens
//     itself, except to loopback addresses: the kernel will not route 127.0.0.0/8 off
//     the host without route_localnet, so `localhost:8080` is not published (Docker's
//     userland proxy exists to answer there);
//   - postrouting (type nat, priority srcnat): masquerade where the reply would
//     otherwise miss the translation: connections the namespace opens itself (their
//     source is a local address the container may have no route back to), and a
//     container reaching itself through the published port (hairpin: its reply would
//     go straight to itself; where br_netfilter is loaded, as on a Docker host, the
//     container's bridge port also needs hairpin mode, as Docker sets). Clients from outside keep their source address, as with
//     Docker, so the container needs a route back to them: its default route through
//     the host.
//
// Forwarding is not switched on behind the caller's back: Publish refuses with
// ErrInvalid when forwarding is off in the namespace (net.ipv4.ip_forward, or
// net.ipv6.conf.all.forwarding for an IPv6 Dst), because DNATed traffic from outside
// would then be dropped silently. Docker turns it on for the whole host; a library
// handed netnsx.Host() must not. Turn it on with
// ns.SetSysctl("net.ipv4.ip_forward", "1") first.
//
// Containers on the same bridge as Dst should dial Dst directly: their packets to the
// published port are translated, but Dst's reply goes straight back over the bridge.
package portmap
