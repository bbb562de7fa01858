package lab

import (
	"net"
	"net/netip"
)

// Spec is a whole lab: what Load reads from a file and Build makes. It mirrors the file
// format field for field (see the package documentation), so a lab written in Go and one
// read from YAML or JSON are the same value.
type Spec struct {
	// Name names the lab (its state file, its errors): 1-32 bytes of a-z, 0-9, '-', '_', '.'.
	Name string `json:"name" yaml:"name"`
	// Prefix is prepended to every node name to make its namespace name; "": the node
	// names are the namespace names (the article's container-1).
	Prefix   string   `json:"prefix,omitempty" yaml:"prefix,omitempty"`
	Topology Topology `json:"topology" yaml:"topology"`
}

// Topology is what the lab holds, as containerlab's topology section.
type Topology struct {
	// Defaults are copied into every node that leaves them zero: IPv4Only when true,
	// Labels and Sysctls merged (the node's own keys win), Exec and Start when the node
	// has none. Bridges and Routes are not defaults.
	Defaults Node            `json:"defaults,omitempty" yaml:"defaults,omitempty"`
	Nodes    map[string]Node `json:"nodes" yaml:"nodes"` // key: the node name, with Prefix the namespace name
	Links    []Link          `json:"links,omitempty" yaml:"links,omitempty"`
	Overlays []Overlay       `json:"overlays,omitempty" yaml:"overlays,omitempty"`
}

// Node is one network namespace and what it holds besides its links.
type Node struct {
	Labels   map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`     // free-form; drawn, not used
	IPv4Only bool              `json:"ipv4only,omitempty" yaml:"ipv4only,omitempty"` // netnsx.Config.IPv4Only; false: IPv6 as on the host
	Sysctls  map[string]string `json:"sysctls,omitempty" yaml:"sysctls,omitempty"`   // "net.ipv4.ip_forward": "1"; keys under net. only
	Bridges  map[string]Bridge `json:"bridges,omitempty" yaml:"bridges,omitempty"`   // Linux bridges inside this node, by name
	Routes   []Route           `json:"routes,omitempty" yaml:"routes,omitempty"`     // added after every link and overlay exists
	// Exec commands run to completion, each with /bin/sh -c inside the node, once the
	// whole lab is built (containerlab's exec); one that fails fails Build.
	Exec []string `json:"exec,omitempty" yaml:"exec,omitempty"`
	// Start commands are started with /bin/sh -c inside the node after every Exec, and
	// left running; the Lab owns them (Close and Destroy kill them).
	Start []string `json:"start,omitempty" yaml:"start,omitempty"`
}

// Bridge is a Linux bridge inside a node; see bridge.Config.
type Bridge struct {
	Addrs []netip.Prefix `json:"addrs,omitempty" yaml:"addrs,omitempty"` // none: no address
	MTU   int            `json:"mtu,omitempty" yaml:"mtu,omitempty"`     // 0: the kernel's default
	STP   bool           `json:"stp,omitempty" yaml:"stp,omitempty"`     // false: spanning tree off
}

// Link is a veth pair between two endpoints, in two nodes or in one.
type Link struct {
	// Endpoints are the pair's ends. In a file each is either the string "node:ifname",
	// containerlab's form, or an object with the Endpoint fields.
	Endpoints [2]Endpoint `json:"endpoints" yaml:"endpoints"`
	MTU       int         `json:"mtu,omitempty" yaml:"mtu,omitempty"` // both ends; 0: the kernel's default, 1500
	// Impair applies to both ends' egress, except an end with an Impair of its own.
	Impair *Impairment `json:"impair,omitempty" yaml:"impair,omitempty"`
}

// Endpoint is one end of a link: an interface in a node. It reads and writes as the
// string "node:ifname" when only Node and Interface are set, as an object otherwise.
type Endpoint struct {
	Node         string           `json:"node" yaml:"node"`
	Interface    string           `json:"interface" yaml:"interface"`               // 1-15 bytes
	Addrs        []netip.Prefix   `json:"addrs,omitempty" yaml:"addrs,omitempty"`   // none: no address
	HardwareAddr net.HardwareAddr `json:"-" yaml:"-"`                               // "mac" in a file; nil: the kernel picks one
	Bridge       string           `json:"bridge,omitempty" yaml:"bridge,omitempty"` // a bridge of the same node this end is a port of; "": none
	Impair       *Impairment      `json:"impair,omitempty" yaml:"impair,omitempty"` // on this end's egress; nil: the link's
}

// Route is a route added to a node's main table, as `ip route add DST via VIA dev DEV`.
type Route struct {
	Dst     netip.Prefix `json:"dst" yaml:"dst"`                     // required; 0.0.0.0/0 for a default route
	Gateway netip.Addr   `json:"via,omitempty" yaml:"via,omitempty"` // zero: on the link, Dev required
	Dev     string       `json:"dev,omitempty" yaml:"dev,omitempty"` // "": chosen by the kernel from Gateway
}

// Overlay is a VXLAN segment across nodes: one device in each member with a static flood
// list of every other member's VTEP, learning on, as the article makes it by hand.
type Overlay struct {
	Name    string          `json:"name" yaml:"name"`                     // the device name in every member, "vxlan0"
	VNI     uint32          `json:"vni" yaml:"vni"`                       // 0..16777215
	Port    uint16          `json:"port,omitempty" yaml:"port,omitempty"` // UDP port; 0: 4789 (IANA), not Linux's 8472
	Members []OverlayMember `json:"members" yaml:"members"`               // at least two
}

// OverlayMember is one node's VTEP on an overlay.
type OverlayMember struct {
	Node     string `json:"node" yaml:"node"`
	Underlay string `json:"underlay" yaml:"underlay"` // the interface in Node that carries the VXLAN packets; required
	// Local is the VTEP address; zero: the first IPv4 address the spec gives the
	// underlay interface.
	Local  netip.Addr     `json:"local,omitempty" yaml:"local,omitempty"`
	Bridge string         `json:"bridge,omitempty" yaml:"bridge,omitempty"` // a bridge of Node the device is a port of; "": none
	Addrs  []netip.Prefix `json:"addrs,omitempty" yaml:"addrs,omitempty"`   // on the VXLAN device; none: no address
}

// Impairment is what package fault does to an end of a link, on what it sends. The
// kernel's network emulator (netem: delay, jitter, reordering) is not offered: kernels
// without sch_netem, such as the one nstopo is tested on, would fail every lab using it.
type Impairment struct {
	// Rate limits the egress with a token-bucket filter (fault.LimitRate), in tc's
	// notation: "10mbit", "512kbit", "1gbit", "100000bit"; "": no limit.
	Rate string `json:"rate,omitempty" yaml:"rate,omitempty"`
	// Loss drops this percentage, 1..100, of the packets the node sends into the
	// subnets of the end's addresses, at random (fault.Loss with nftables); 0: none.
	// It needs the end to have addresses.
	Loss int `json:"loss,omitempty" yaml:"loss,omitempty"`
	// Down leaves the end's interface down (fault.Down); false: up.
	Down bool `json:"down,omitempty" yaml:"down,omitempty"`
}
