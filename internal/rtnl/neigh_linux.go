package rtnl

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Neigh is a neighbour or forwarding-database entry (RTM_NEWNEIGH).
type Neigh struct {
	Family       int
	Index        int
	State        uint16 // NUD_*
	Flags        uint8  // NTF_*
	HardwareAddr net.HardwareAddr
	IP           netip.Addr // NDA_DST: the neighbour's IP, or a VXLAN entry's remote VTEP
	Master       int
	VLAN         uint16
	VNI          uint32
}

// Neighs returns the entries of one family (AF_BRIDGE for forwarding databases).
func (c *Conn) Neighs(fam int) ([]Neigh, error) {
	msgs, err := c.dump(neighDumpRequest(fam), unix.RTM_NEWNEIGH)
	if err != nil {
		return nil, err
	}
	out := make([]Neigh, 0, len(msgs))
	for _, m := range msgs {
		if n, ok := parseNeigh(m); ok && n.Family == fam {
			out = append(out, n)
		}
	}
	return out, nil
}

func neighDumpRequest(fam int) *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETNEIGH, &ndmsg{family: uint8(fam)})
}

// parseNeigh decodes an RTM_NEWNEIGH message; false if it is too short.
func parseNeigh(m []byte) (Neigh, bool) {
	if len(m) < sizeofNdmsg {
		return Neigh{}, false
	}
	hdr := parseNdmsg(m)
	n := Neigh{Family: int(hdr.family), Index: int(hdr.index), State: hdr.state, Flags: hdr.flags}
	// Walked by hand, not through attrs: a dump of thousands of entries runs on every
	// reconcile, and a map per entry was most of its cost.
	for b := m[sizeofNdmsg:]; len(b) >= unix.SizeofRtAttr; {
		l := int(nl.NativeEndian().Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		v := b[unix.SizeofRtAttr:l]
		switch nl.NativeEndian().Uint16(b[2:]) & nlaTypeMask {
		case unix.NDA_LLADDR:
			if len(v) > 0 {
				n.HardwareAddr = net.HardwareAddr(append([]byte(nil), v...))
			}
		case unix.NDA_DST:
			n.IP, _ = netip.AddrFromSlice(v)
		case unix.NDA_MASTER:
			n.Master = int(u32(v))
		case unix.NDA_VLAN:
			n.VLAN = u16(v)
		case unix.NDA_VNI:
			n.VNI = u32(v)
		}
		b = b[min(align(l), len(b)):]
	}
	return n, true
}

// ndmsg is struct ndmsg from linux/neighbour.h.
type ndmsg struct {
	family uint8
	index  int32
	state  uint16
	flags  uint8
	typ    uint8
}

func (m *ndmsg) Len() int { return sizeofNdmsg }

func (m *ndmsg) Serialize() []byte {
	b := make([]byte, sizeofNdmsg)
	b[0] = m.family
	nl.NativeEndian().PutUint32(b[4:], uint32(m.index))
	nl.NativeEndian().PutUint16(b[8:], m.state)
	b[10], b[11] = m.flags, m.typ
	return b
}

func parseNdmsg(b []byte) ndmsg {
	return ndmsg{family: b[0], index: int32(u32(b[4:])), state: u16(b[8:]), flags: b[10], typ: b[11]}
}

// NeighMode says how NeighAdd treats existing entries for the same key.
type NeighMode int

const (
	NeighReplace NeighMode = iota // create or replace: `ip neigh replace`, `bridge fdb replace`
	NeighAppend                   // add one more destination: `bridge fdb append`
)

// NeighAdd writes a neighbour or FDB entry. For AF_BRIDGE the key is the MAC (and, for
// VXLAN, the destination with NeighAppend); otherwise the IP.
func (c *Conn) NeighAdd(n Neigh, mode NeighMode) error {
	_, err := c.exec(neighAddRequest(n, mode), 0)
	return err
}

func neighAddRequest(n Neigh, mode NeighMode) *nl.NetlinkRequest {
	flags := unix.NLM_F_CREATE | unix.NLM_F_ACK
	if mode == NeighAppend {
		flags |= unix.NLM_F_APPEND
	} else {
		flags |= unix.NLM_F_REPLACE
	}
	return neighRequest(unix.RTM_NEWNEIGH, flags, n)
}

// NeighDel removes the entry with n's key; for a VXLAN FDB entry with an IP, only that
// destination.
func (c *Conn) NeighDel(n Neigh) error {
	_, err := c.exec(neighDelRequest(n), 0)
	return err
}

func neighDelRequest(n Neigh) *nl.NetlinkRequest {
	return neighRequest(unix.RTM_DELNEIGH, unix.NLM_F_ACK, n)
}

// neighRequest encodes n's header, MAC and IP; its other fields are not sent.
func neighRequest(typ, flags int, n Neigh) *nl.NetlinkRequest {
	req := newRequest(typ, flags, &ndmsg{family: uint8(n.Family), index: int32(n.Index), state: n.State, flags: n.Flags})
	if n.HardwareAddr != nil {
		req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, n.HardwareAddr))
	}
	if n.IP.IsValid() {
		req.AddData(nl.NewRtAttr(unix.NDA_DST, n.IP.AsSlice()))
	}
	return req
}
