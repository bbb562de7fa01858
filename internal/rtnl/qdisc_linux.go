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
	msg := &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(s.Index), Handle: s.Handle, Parent: HandleRoot}
	req := c.request(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, msg,
		nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated(s.Kind)))
	if s.Options != nil {
		req.AddData(s.Options)
	}
	_, err := c.exec(req, 0)
	return err
}

// QdiscDel deletes the root queueing discipline of a link; the kernel attaches the
// default one again, as after `tc qdisc del dev D root`.
func (c *Conn) QdiscDel(index int, handle uint32) error {
	msg := &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(index), Handle: handle, Parent: HandleRoot}
	_, err := c.exec(c.request(unix.RTM_DELQDISC, unix.NLM_F_ACK, msg), 0)
	return err
}

// Qdiscs returns the queueing disciplines of the link with that index.
func (c *Conn) Qdiscs(index int) ([]*Qdisc, error) {
	msgs, err := c.dump(unix.RTM_GETQDISC, unix.RTM_NEWQDISC, &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(index)})
	if err != nil {
		return nil, err
	}
	var out []*Qdisc
	for _, m := range msgs {
		if len(m) < nl.SizeofTcMsg {
			continue
		}
		tm := nl.DeserializeTcMsg(m)
		if int(tm.Ifindex) != index {
			continue // older kernels dump every link's
		}
		a := attrs(m, nl.SizeofTcMsg)
		out = append(out, &Qdisc{
			Index:   index,
			Handle:  tm.Handle,
			Parent:  tm.Parent,
			Kind:    str(a[nl.TCA_KIND]),
			Options: append([]byte(nil), a[nl.TCA_OPTIONS]...),
		})
	}
	return out, nil
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
