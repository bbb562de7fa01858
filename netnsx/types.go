package netnsx

import (
	"net"
	"net/netip"
	"sync"
)

// NS is a handle on one network namespace. Its methods are safe for concurrent use.
// A nil *NS is never the host: every call on or with one fails with ErrInvalid (only
// Close does nothing). The host namespace is reached only through [Host]. Close every
// handle: each holds a file descriptor and a netlink socket, which a forgotten handle
// keeps until the garbage collector happens to find it.
type NS struct {
	name string // "" for namespaces without a name under /run/netns
	path string
	host bool // opened by Host

	// Calls hold a reference while they use sys; Close marks the handle closed at once,
	// so later calls fail fast instead of queueing, then waits for the references to go.
	mu       sync.Mutex
	drained  sync.Cond // signalled on mu when refs drops to 0 after Close
	refs     int
	closed   bool
	deleting bool  // claimed by Delete; Close follows
	sys      nsSys // what the platform keeps: the namespace fd and its netlink socket
}

// Name returns the namespace's name under /run/netns, or "" for the host namespace and
// for namespaces opened by path.
func (ns *NS) Name() string {
	if ns == nil {
		return ""
	}
	return ns.name
}

// Path returns the file the namespace was opened from.
func (ns *NS) Path() string {
	ns, err := resolve(ns)
	if err != nil {
		return ""
	}
	return ns.path
}

// String names the namespace for errors and logs: its name, "host", or its path.
func (ns *NS) String() string {
	switch {
	case ns == nil:
		return "<nil>"
	case ns.host:
		return "host"
	case ns.name != "":
		return ns.name
	}
	return ns.path
}

// Config says how [Create] makes a namespace. The zero value of each field is what
// `ip netns add` does.
type Config struct {
	// Name is the namespace's name under /run/netns: printable ASCII, a single file
	// name (no '/', not "." or "..", no white space); New refuses others with ErrInvalid.
	Name string

	// IPv4Only turns IPv6 off in the namespace (net.ipv6.conf.all.disable_ipv6=1 and
	// net.ipv6.conf.default.disable_ipv6=1) before lo is up and before any link exists,
	// so no interface made in it ever starts IPv6 autoconfiguration: no link-local
	// address, no router solicitation, duplicate address detection or MLD report
	// multicast, which a bridge floods to every port — the cost that makes a star of
	// 1000 namespaces three times slower to build (see the README).
	//
	// What it gives up: IPv6 entirely, inside this namespace. No interface has an IPv6
	// address, link-local ones included; adding one (Link.AddAddr, or Addrs of
	// bridge.Config, veth.End, vxlan.Config) fails with ErrNotSupported, the kernel's
	// EACCES still reachable with errors.Is; an IPv6 socket has no address to use.
	// A veth end moved in from elsewhere keeps the setting it had. Writing the sysctls
	// back to 0 (NS.SetSysctl) brings IPv6 back for interfaces made after that.
	// False (the default): IPv6 works as on the host.
	IPv4Only bool
}

// Link is a network interface inside a namespace. It refers to the interface by index,
// which the kernel never reuses while the interface exists. SetName and SetNS update
// the *Link (its Name; its NS and Index): do not call them while another goroutine
// uses the same *Link.
type Link struct {
	ns    *NS
	name  string
	index int
	kind  string
}

// Name returns the interface name.
func (l *Link) Name() string {
	if l == nil {
		return ""
	}
	return l.name
}

// Index returns the interface index inside its namespace.
func (l *Link) Index() int {
	if l == nil {
		return 0
	}
	return l.index
}

// Kind returns the link kind as `ip -d link` shows it: "veth", "bridge", "vxlan", ...;
// "" for devices without one, such as lo.
func (l *Link) Kind() string {
	if l == nil {
		return ""
	}
	return l.kind
}

// NS returns the namespace the link lives in.
func (l *Link) NS() *NS {
	if l == nil {
		return nil
	}
	return l.ns
}

func (l *Link) String() string {
	if l == nil {
		return "<nil link>"
	}
	return l.name
}

// Route is one unicast route of a namespace's routing table.
type Route struct {
	Dst     netip.Prefix `json:"dst"`     // zero value: the default route of the gateway's family
	Gateway netip.Addr   `json:"gateway"` // zero value: the destination is on the link (scope link)
	Dev     string       `json:"dev"`     // the outgoing interface; required without a gateway
	Src     netip.Addr   `json:"src"`     // the preferred source address; read back only
	// Table is the routing table, 1 to 4294967295, as `ip route ... table N`; 0 (and
	// 254) is main, the table `ip route` shows and a route is read back from with 0.
	Table int `json:"table,omitempty"`
	// Metric is the route's priority, lower preferred, as `ip route ... metric N`; 0 is
	// the kernel's default, which is 0 for IPv4 and 1024 for IPv6 (and read back so).
	Metric int `json:"metric,omitempty"`
}

// LinkStats are a link's counters since it was made, the kernel's 64-bit ones
// (struct rtnl_link_stats64), as `ip -s link show` prints them.
type LinkStats struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64 // packets the link itself dropped
	Multicast            uint64 // received multicast packets
}

// FDBEntry is one forwarding-database entry of a bridge or a VXLAN device, as
// `bridge fdb show` lists it.
type FDBEntry struct {
	HardwareAddr net.HardwareAddr
	Dst          netip.Addr // VXLAN: the remote VTEP; the zero value for bridge entries
	Dev          string     // the bridge port or the VXLAN device the entry belongs to
	VLAN         uint16     // 0: no VLAN
	VNI          uint32     // VXLAN: the entry's own VNI, 0 when it is the device's
	Permanent    bool       // never ages out: added by hand, or a port's own address
	Self         bool       // in the device's own table (VXLAN), not the bridge's
}
