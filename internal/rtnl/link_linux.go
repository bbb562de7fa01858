package rtnl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Link is what nstopo reads of an RTM_NEWLINK message.
type Link struct {
	Index        int
	Flags        uint32
	Name         string
	MTU          int
	HardwareAddr net.HardwareAddr
	Master       int    // IFLA_MASTER: the bridge a port belongs to, 0 for none
	PeerIndex    int    // IFLA_LINK: a veth's peer, a VXLAN device's underlay
	PeerNetNSID  int    // IFLA_LINK_NETNSID: where PeerIndex lives, -1 for "here"
	OperState    uint8  // IF_OPER_*
	Qdisc        string // "noop" until the kernel activates the device's queueing
	Kind         string // IFLA_INFO_KIND, "" for devices without one (lo, NICs)
	Data         []byte // IFLA_INFO_DATA, parsed per kind by its package
	Stats        *Stats // IFLA_STATS64; nil when the request skipped the statistics
}

// Stats is the head of struct rtnl_link_stats64, the kernel's 64-bit counters of a
// link, in the kernel's order.
type Stats struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64
	Multicast            uint64
	Collisions           uint64
}

// sizeofStats is how much of rtnl_link_stats64 Stats reads; every kernel sends more.
const sizeofStats = 10 * 8

// parseStats decodes an IFLA_STATS64 attribute; nil if it is too short.
func parseStats(b []byte) *Stats {
	if len(b) < sizeofStats {
		return nil
	}
	v := func(i int) uint64 { return nl.NativeEndian().Uint64(b[8*i:]) }
	return &Stats{
		RxPackets: v(0), TxPackets: v(1), RxBytes: v(2), TxBytes: v(3), RxErrors: v(4), TxErrors: v(5),
		RxDropped: v(6), TxDropped: v(7), Multicast: v(8), Collisions: v(9),
	}
}

// Up reports IFF_UP: administratively up.
func (l *Link) Up() bool { return l.Flags&unix.IFF_UP != 0 }

// Ready reports that the kernel will carry traffic now: operationally up and the
// queueing discipline attached. Until then a veth drops what it is given.
func (l *Link) Ready() bool {
	return l.OperState == ifOperUp && l.Qdisc != "" && l.Qdisc != "noop"
}

// parseLink decodes an RTM_NEWLINK message; nil if it is too short.
func parseLink(b []byte) *Link {
	if len(b) < unix.SizeofIfInfomsg {
		return nil
	}
	info := nl.DeserializeIfInfomsg(b)
	l := &Link{Index: int(info.Index), Flags: info.Flags, PeerNetNSID: -1}
	a := attrs(b, unix.SizeofIfInfomsg)
	l.Name = str(a[unix.IFLA_IFNAME])
	l.MTU = int(u32(a[unix.IFLA_MTU]))
	if mac := a[unix.IFLA_ADDRESS]; len(mac) > 0 {
		l.HardwareAddr = net.HardwareAddr(append([]byte(nil), mac...))
	}
	l.Master = int(u32(a[unix.IFLA_MASTER]))
	l.PeerIndex = int(u32(a[unix.IFLA_LINK]))
	if v, ok := a[unix.IFLA_LINK_NETNSID]; ok {
		l.PeerNetNSID = int(int32(u32(v)))
	}
	if v := a[unix.IFLA_OPERSTATE]; len(v) > 0 {
		l.OperState = v[0]
	}
	l.Qdisc = str(a[unix.IFLA_QDISC])
	l.Stats = parseStats(a[unix.IFLA_STATS64])
	if li, ok := a[unix.IFLA_LINKINFO]; ok {
		in := attrs(li, 0)
		l.Kind = str(in[unix.IFLA_INFO_KIND])
		l.Data = in[unix.IFLA_INFO_DATA]
	}
	return l
}

// LinkSpec describes a link to create. Zero fields are left to the kernel.
type LinkSpec struct {
	Name         string
	MTU          int
	HardwareAddr net.HardwareAddr
	Master       int  // enslave at creation (the kernel does it in the same request)
	Up           bool // IFF_UP at creation
	NSFd         int  // >0: create it in the namespace behind this file descriptor
	Link         int  // IFLA_LINK: the lower device (a macvlan's parent) in the sender's namespace
	Kind         string
	Data         []*nl.RtAttr // IFLA_INFO_DATA children
	Peer         *LinkSpec    // veth: the other end; the kernel ignores its Master and refuses its Up
}

// encode writes the spec as an ifinfomsg and its attributes into parent (a request or a
// VETH_INFO_PEER attribute).
func (s *LinkSpec) encode(add func(nl.NetlinkRequestData)) {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	if s.Up {
		msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	}
	add(msg)
	add(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(s.Name)))
	if s.MTU > 0 {
		add(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(s.MTU))))
	}
	if s.HardwareAddr != nil {
		add(nl.NewRtAttr(unix.IFLA_ADDRESS, s.HardwareAddr))
	}
	if s.Master > 0 {
		add(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(s.Master))))
	}
	if s.Link > 0 {
		add(nl.NewRtAttr(unix.IFLA_LINK, nl.Uint32Attr(uint32(s.Link))))
	}
	if s.NSFd > 0 {
		add(nl.NewRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(s.NSFd))))
	}
	if s.Kind != "" {
		info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
		info.AddRtAttr(unix.IFLA_INFO_KIND, nl.NonZeroTerminated(s.Kind))
		data := info.AddRtAttr(unix.IFLA_INFO_DATA, nil)
		for _, d := range s.Data {
			data.AddChild(d)
		}
		if s.Peer != nil {
			peer := data.AddRtAttr(vethInfoPeer, nil)
			s.Peer.encode(peer.AddChild)
		}
		add(info)
	}
}

const vethInfoPeer = 1 // VETH_INFO_PEER in linux/veth.h

// LinkAdd creates a link in one request. The kernel echoes the new link back
// (NLM_F_ECHO); on kernels that do not, it is looked up by name. A link created in
// another namespace (NSFd) is not looked up and nil is returned.
func (c *Conn) LinkAdd(s *LinkSpec) (*Link, error) {
	msgs, err := c.exec(linkAddRequest(s), unix.RTM_NEWLINK)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if l := parseLink(m); l != nil && l.Name == s.Name {
			return l, nil
		}
	}
	if s.NSFd > 0 {
		return nil, nil
	}
	return c.LinkByName(s.Name)
}

func linkAddRequest(s *LinkSpec) *nl.NetlinkRequest {
	req := newRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK|unix.NLM_F_ECHO)
	s.encode(req.AddData)
	return req
}

// LinkByName returns the link called name.
func (c *Conn) LinkByName(name string) (*Link, error) {
	return c.getLink(linkByNameRequest(name))
}

func linkByNameRequest(name string) *nl.NetlinkRequest {
	return newRequest(unix.RTM_GETLINK, unix.NLM_F_ACK, nl.NewIfInfomsg(unix.AF_UNSPEC),
		nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)),
		nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
}

// LinkByIndex returns the link with that index.
func (c *Conn) LinkByIndex(index int) (*Link, error) {
	return c.getLink(linkByIndexRequest(index))
}

func linkByIndexRequest(index int) *nl.NetlinkRequest {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	return newRequest(unix.RTM_GETLINK, unix.NLM_F_ACK, msg,
		nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
}

// LinkStats returns the link with that index, its Stats read as well.
func (c *Conn) LinkStats(index int) (*Link, error) {
	l, err := c.getLink(linkStatsRequest(index))
	if err == nil && l.Stats == nil {
		return nil, fmt.Errorf("link %d: no IFLA_STATS64 in the reply: %w", index, unix.EOPNOTSUPP)
	}
	return l, err
}

// linkStatsRequest is linkByIndexRequest without RTEXT_FILTER_SKIP_STATS.
func linkStatsRequest(index int) *nl.NetlinkRequest {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	return newRequest(unix.RTM_GETLINK, unix.NLM_F_ACK, msg)
}

func (c *Conn) getLink(req *nl.NetlinkRequest) (*Link, error) {
	msgs, err := c.exec(req, unix.RTM_NEWLINK)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if l := parseLink(m); l != nil {
			return l, nil
		}
	}
	return nil, unix.ENODEV
}

// Links returns every link in the namespace.
func (c *Conn) Links() ([]*Link, error) {
	msgs, err := c.dump(linkDumpRequest(), unix.RTM_NEWLINK)
	if err != nil {
		return nil, err
	}
	links := make([]*Link, 0, len(msgs))
	for _, m := range msgs {
		if l := parseLink(m); l != nil {
			links = append(links, l)
		}
	}
	return links, nil
}

func linkDumpRequest() *nl.NetlinkRequest {
	return dumpRequest(unix.RTM_GETLINK, nl.NewIfInfomsg(unix.AF_UNSPEC),
		nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
}

// LinkChange describes a change to an existing link; nil fields are left alone.
type LinkChange struct {
	Up           *bool
	MTU          int
	Master       *int // 0 releases the link from its master
	Name         string
	HardwareAddr net.HardwareAddr
	NSFd         int // >0: move the link to the namespace behind this file descriptor
}

// LinkSet applies a change to the link with that index in one request.
func (c *Conn) LinkSet(index int, ch LinkChange) error {
	_, err := c.exec(linkSetRequest(index, ch), 0)
	return err
}

// LinkSetByName applies a change to the link called name, for when its index is not
// known (just moved in from another namespace). ch must not rename it.
func (c *Conn) LinkSetByName(name string, ch LinkChange) error {
	req := linkSetRequest(0, ch)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	_, err := c.exec(req, 0)
	return err
}

func linkSetRequest(index int, ch LinkChange) *nl.NetlinkRequest {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	if ch.Up != nil {
		msg.Change = unix.IFF_UP
		if *ch.Up {
			msg.Flags = unix.IFF_UP
		}
	}
	req := newRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK, msg)
	if ch.MTU > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(ch.MTU))))
	}
	if ch.Master != nil {
		req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(*ch.Master))))
	}
	if ch.Name != "" {
		req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(ch.Name)))
	}
	if ch.HardwareAddr != nil {
		req.AddData(nl.NewRtAttr(unix.IFLA_ADDRESS, ch.HardwareAddr))
	}
	if ch.NSFd > 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(ch.NSFd))))
	}
	return req
}

// LinkDel deletes the link with that index.
func (c *Conn) LinkDel(index int) error {
	_, err := c.exec(linkDelRequest(index), 0)
	return err
}

// LinkDelByName deletes the link called name: the cleanup of a link made in another
// namespace whose index was never read.
func (c *Conn) LinkDelByName(name string) error {
	_, err := c.exec(linkDelByNameRequest(name), 0)
	return err
}

func linkDelByNameRequest(name string) *nl.NetlinkRequest {
	return newRequest(unix.RTM_DELLINK, unix.NLM_F_ACK, nl.NewIfInfomsg(unix.AF_UNSPEC),
		nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
}

func linkDelRequest(index int) *nl.NetlinkRequest {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	return newRequest(unix.RTM_DELLINK, unix.NLM_F_ACK, msg)
}

// WaitReady polls the link until Ready, backing off from 50µs to 5ms, until ctx ends.
func WaitReady(ctx context.Context, c *Conn, index int) error {
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		l, err := c.LinkByIndex(index)
		if err != nil {
			return err
		}
		if l.Ready() {
			return nil
		}
		if !l.Up() {
			return fmt.Errorf("link %s is down: %w", l.Name, unix.ENETDOWN)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			err := ctx.Err()
			if errors.Is(err, context.DeadlineExceeded) {
				err = unix.ETIMEDOUT // the sentinels know an errno, not a context error
			}
			return fmt.Errorf("link %s not ready (operstate %d, qdisc %q): %w", l.Name, l.OperState, l.Qdisc, err)
		case <-t.C:
		}
	}
}

// NSID returns the id this namespace gives the namespace behind fd (the
// IFLA_LINK_NETNSID its links report for peers there), or -1 if it has none.
func (c *Conn) NSID(fd int) (int, error) {
	msgs, err := c.exec(nsidRequest(fd), unix.RTM_NEWNSID)
	if err != nil {
		return -1, err
	}
	for _, m := range msgs {
		if id, ok := parseNSID(m); ok {
			return id, nil
		}
	}
	return -1, nil
}

func nsidRequest(fd int) *nl.NetlinkRequest {
	return newRequest(unix.RTM_GETNSID, unix.NLM_F_ACK,
		raw{unix.AF_UNSPEC, 0, 0, 0}, // struct rtgenmsg, padded
		nl.NewRtAttr(unix.NETNSA_FD, nl.Uint32Attr(uint32(fd))))
}

// parseNSID decodes an RTM_NEWNSID message: its NETNSA_NSID, false if it has none.
func parseNSID(m []byte) (int, bool) {
	v, ok := attrs(m, 4)[unix.NETNSA_NSID]
	return int(int32(u32(v))), ok
}

// raw is a fixed header sent as is.
type raw []byte

func (r raw) Len() int          { return len(r) }
func (r raw) Serialize() []byte { return r }
