package netnsx

import (
	"net"
	"net/netip"

	"github.com/nstopo/nstopo/internal/kind"
)

// LinkSpec is a link of one kind to add with (*NS).AddLink, the way rtnetlink's
// drivers plug in: attributes in, *Link out. The bridge, veth and vxlan packages
// implement it; its method returns a type internal to this module, so no other package
// can, and users make links through those packages.
type LinkSpec interface {
	LinkSpec() (LinkAttrs, kind.Info)
}

// LinkAttrs are what every kind of link has. Zero fields are left to the kernel.
type LinkAttrs struct {
	Name         string           // required: 1-15 bytes
	MTU          int              // 0: the kernel's default
	HardwareAddr net.HardwareAddr // nil: the kernel picks a random one
	Master       *Link            // a bridge in the same namespace, set in the same request; nil: none
	Addrs        []netip.Prefix   // added once the link exists
	Peer         *PeerAttrs       // the other end of a pair (veth); nil for other kinds
	// Parent is the lower device a link stacks on (IFLA_LINK: a macvlan's parent), in
	// the namespace AddLink is called on; nil: none.
	Parent *Link
	// Target is where the link is made, under its final name (IFLA_NET_NS_FD), and
	// where Master must be and Addrs are added; nil: the namespace AddLink is called on.
	Target *NS
}

// PeerAttrs is the other end of a pair, made in the same request, in its own namespace
// under its final name.
type PeerAttrs struct {
	NS *NS // required; may be the namespace of the first end; nil is refused
	LinkAttrs
}
