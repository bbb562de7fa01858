package rtnl

import (
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// HandleRoot is TC_H_ROOT: the parent of a link's root queueing discipline.
const HandleRoot = 0xffffffff

// Qdisc is what nstopo reads of an RTM_NEWQDISC message.
type Qdisc struct {
	Index   int
	Handle  uint32
	Parent  uint32
	Kind    string // TCA_KIND: "tbf", "noqueue", "fq_codel", ...
	Options []byte // TCA_OPTIONS, parsed per kind by its user
}

// QdiscSpec describes a root queueing discipline to add.
type QdiscSpec struct {
	Index   int
	Handle  uint32 // 0: the kernel picks one
	Kind    string
	Options *nl.RtAttr // TCA_OPTIONS, with its data and children
}

// QdiscAdd adds the root queueing discipline of a link, as `tc qdisc add dev D root`
// does. NLM_F_EXCL refuses to replace one someone else installed (the kernel's default
// one, handle 0, does not count), so the caller never clobbers a root it does not own.
func (c *Conn) QdiscAdd(s QdiscSpec) error {
	_, err := c.exec(qdiscAddRequest(s), 0)
	return err
}

func qdiscAddRequest(s QdiscSpec) *nl.NetlinkRequest {
	msg := &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(s.Index), Handle: s.Handle, Parent: HandleRoot}
	req := newRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg,
		nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated(s.Kind)))
	if s.Options != nil {
		req.AddData(s.Options)
	}
	return req
}

// QdiscDel deletes the root queueing discipline of a link; the kernel attaches the
// default one again, as after `tc qdisc del dev D root`.
func (c *Conn) QdiscDel(index int, handle uint32) error {
	_, err := c.exec(qdiscDelRequest(index, handle), 0)
	return err
}

func qdiscDelRequest(index int, handle uint32) *nl.NetlinkRequest {
	msg := &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(index), Handle: handle, Parent: HandleRoot}
	return newRequest(unix.RTM_DELQDISC, unix.NLM_F_ACK, msg)
}

// Qdiscs returns the queueing disciplines of the link with that index.
func (c *Conn) Qdiscs(index int) ([]*Qdisc, error) {
	msgs, err := c.dump(qdiscDumpRequest(index), unix.RTM_NEWQDISC)
	if err != nil {
		return nil, err
	}
	var out []*Qdisc
	for _, m := range msgs {
		if q := parseQdisc(m); q != nil && q.Index == index { // older kernels dump every link's
			out = append(out, q)
		}
	}
	return out, nil
}

func qdiscDumpRequest(index int) *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETQDISC, &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(index)})
}

// parseQdisc decodes an RTM_NEWQDISC message; nil if it is too short.
func parseQdisc(m []byte) *Qdisc {
	if len(m) < nl.SizeofTcMsg {
		return nil
	}
	tm := nl.DeserializeTcMsg(m)
	a := attrs(m, nl.SizeofTcMsg)
	return &Qdisc{
		Index:   int(tm.Ifindex),
		Handle:  tm.Handle,
		Parent:  tm.Parent,
		Kind:    str(a[nl.TCA_KIND]),
		Options: append([]byte(nil), a[nl.TCA_OPTIONS]...),
	}
}

// RootQdisc returns the root queueing discipline of the link, or nil if it has none.
func (c *Conn) RootQdisc(index int) (*Qdisc, error) {
	qs, err := c.Qdiscs(index)
	if err != nil {
		return nil, err
	}
	for _, q := range qs {
		if q.Parent == HandleRoot {
			return q, nil
		}
	}
	return nil, nil
}
