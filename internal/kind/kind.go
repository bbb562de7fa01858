// Package kind is what a link kind (bridge, veth, vxlan) hands netnsx.(*NS).AddLink
// besides the attributes every link has: its IFLA_INFO_KIND and the IFLA_INFO_DATA
// attributes it encodes itself. It is plain data, so the seam compiles on every OS, and
// internal, so only this module's packages can implement netnsx.LinkSpec.
package kind

import "encoding/binary"

// Info is a link kind and its IFLA_INFO_DATA attributes.
type Info struct {
	Kind string // "bridge", "veth", "vxlan"
	Data []Attr
}

// Attr is one netlink attribute: its type and its value as the kernel reads it.
type Attr struct {
	Type  uint16
	Value []byte
}

// U8 is a one-byte attribute.
func U8(typ uint16, v uint8) Attr { return Attr{typ, []byte{v}} }

// U32 is a four-byte attribute in host byte order, as netlink integers are.
func U32(typ uint16, v uint32) Attr {
	return Attr{typ, binary.NativeEndian.AppendUint32(nil, v)}
}

// BE16 is a two-byte attribute in network byte order (a UDP port).
func BE16(typ uint16, v uint16) Attr { return Attr{typ, binary.BigEndian.AppendUint16(nil, v)} }
