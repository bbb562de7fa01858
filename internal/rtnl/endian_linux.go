package rtnl

import "github.com/vishvananda/netlink/nl"

// nl.NativeEndian sets a package variable on its first call: made here once, before any
// goroutine can call it, so that a process whose first netlink requests run in parallel
// (nstopo up building a lab's nodes at once) has no data race.
func init() { nl.NativeEndian() }
