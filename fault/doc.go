// Package fault breaks the network on purpose, inside one namespace: packet filters
// that drop, reject with a TCP reset or an ICMP error, lose a share of packets at random
// or cut two prefixes apart; a rate limit on a link; a link taken down and brought back.
// Each constructor returns a handle whose Remove undoes exactly that impairment and
// nothing else, once (Remove is idempotent); everything disappears with the namespace
// anyway.
//
//	f, err := fault.ResetHandshakes(server, 8081) // every SYN to :8081 gets a RST
//	...
//	n, err := f.Packets() // how many handshakes it refused
//	err = f.Remove()
//
// # Filters
//
// [Add], [Loss], [ResetHandshakes] and [Partition] speak nftables over netlink (no nft
// binary) to one table per namespace, inet [Table] "nstopo", with chains input, output
// and forward hooked at priority filter and policy accept. The table is made by the
// first rule and deleted with the last, so `nft list ruleset` in a namespace shows it
// only while a filter is in place. Every rule carries a counter, read by
// [Filter.Counters], and a comment naming it ("nstopo <id>/<n>: in tcp dport 8081 ...");
// Remove deletes its rules by handle. Rules run in the order they were added, after the
// rules of other tables at lower priorities and before those at higher ones; an Accept
// ends only this table's say.
//
// A [Rule] is validated whole before any message is sent: a port beyond 65535, a
// prefix of the wrong family, a loss outside 1..100 or a reset for anything but TCP is
// netnsx.ErrInvalid, and leaves no table behind.
//
// # Queueing and links
//
// [LimitRate] attaches a token-bucket filter (tbf) to a link's egress; [Emulate]
// attaches netem where the kernel has it (sch_netem), and is ErrNotSupported, naming the
// module, where it does not. [Down] and [Flap] take a link down and, on the way back,
// put back what the kernel dropped with it (IPv6 addresses, routes added through it,
// permanent neighbours) and wait until it carries traffic again, so that the first dial
// after gets neither "network is unreachable" nor a SYN lost to a link still coming up.
//
// Tests use the fixtures of package faulttest, which undo every impairment at cleanup.
package fault
