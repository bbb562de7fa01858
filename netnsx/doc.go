// Package netnsx opens, creates and works inside Linux network namespaces.
//
// An [NS] is a handle on one namespace: a named one under /run/netns (made by [New] or
// `ip netns add`, opened by [Open]), one opened by path such as Docker's
// /var/run/docker/netns/<id> or /proc/<pid>/ns/net ([OpenPath]), or the namespace the
// process started in ([Host]). A nil *NS is never the host: any function of nstopo given
// one returns an error wrapping [ErrInvalid], so the nil result of a failed constructor
// cannot reach the real machine. The host is touched only through a handle from Host.
//
// Each NS keeps one rtnetlink socket, opened inside the namespace once; every link,
// address and route call goes through it from whatever goroutine calls it, so no call
// depends on which namespace the calling thread happens to be in.
//
// Code that must run inside a namespace — sockets, child processes — goes through
// [NS.Do], [NS.Dial], [NS.Listen], [NS.ListenPacket], [NS.Start] or [NS.Run]. They run
// on a fresh goroutine locked to its OS thread; the caller's thread never changes
// namespace, and a thread that cannot be switched back is never reused: it stays locked
// and the Go runtime discards it. Goroutines started inside Do run in the host
// namespace, not in the one Do entered; sockets keep the namespace they were made in.
// The thread is put back in a defer, so runtime.Goexit inside Do (t.FailNow) strands
// nothing and ends the caller's goroutine as it would have outside. [NS.Start] and
// [NS.Run] are `ip netns exec`: the child also sees the namespace's own /sys and its
// /etc/netns/NAME files; Do does not remount anything.
//
// Link kinds plug in the way rtnetlink's drivers do: the bridge, veth and vxlan
// packages validate their Config, encode their kind's attributes as a [LinkSpec], and
// call [NS.AddLink], which makes the link (and a veth's peer, in its own namespace) in
// one request, attaches and addresses it, and removes it again if a step fails.
// Forwarding entries are read and written on the [Link] ([Link.FDB], [Link.AddFDB]).
//
// A topology changes in place as with ip: [Link.RemoveAddr], [Link.SetName],
// [Link.SetHardwareAddr], [Link.SetNS] (the *Link follows the link), [Link.NoMaster],
// and routes in any table with a metric ([NS.AddRoute], [NS.ReplaceRoute],
// [NS.DeleteRoute], [NS.RoutesIn]). [Link.Stats] reads the counters `ip -s link`
// prints, and [NS.Output] runs a command inside and returns what it printed.
//
// Without root, call userns.Enter first in main (netnsxtest.Main in tests): it carries
// the program into user, network and mount namespaces of its own, where all of this
// works.
//
// Errors wrap one of the sentinels [ErrExists], [ErrNotFound], [ErrInvalid],
// [ErrPermission] and [ErrNotSupported] and keep the kernel's errno reachable:
//
//	errors.Is(err, netnsx.ErrExists) && errors.Is(err, unix.EEXIST)
//
// Bad names and values are refused with ErrInvalid before any syscall is made.
//
// IPv6 addresses are added without duplicate address detection (IFA_F_NODAD): the
// topology is private, and DAD would keep each new address unusable for a second.
//
// A large IPv4 lab makes its namespaces with [Create] and [Config.IPv4Only]: IPv6 is
// turned off before any interface exists, so no bridge port floods IPv6
// autoconfiguration multicast to all the others; an IPv6 address there is refused
// with ErrNotSupported.
package netnsx
