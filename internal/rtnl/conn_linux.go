// Package rtnl is nstopo's thin rtnetlink layer: one socket per network namespace,
// requests built attribute by attribute so that every field means what `ip` means, and
// replies parsed into small structs. It builds on the message helpers of
// github.com/vishvananda/netlink/nl but never on that package's thread-following calls.
package rtnl

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/failpoint"
)

// ErrClosed is returned by every request on a closed Conn. It matters: a request built
// with no socket would silently fall back to a fresh socket in the calling thread's
// namespace — the host's.
var ErrClosed = errors.New("rtnl: connection closed")

// Constants that golang.org/x/sys/unix does not carry.
const (
	nlaTypeMask          = 0x3fff // ^(NLA_F_NESTED|NLA_F_NET_BYTEORDER)
	ifOperUp             = 6      // IF_OPER_UP
	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS
	sizeofNdmsg          = 12
)

// dumpRetries bounds how often a dump interrupted by concurrent changes is restarted.
const dumpRetries = 10

// Conn is a NETLINK_ROUTE socket bound to the namespace it was opened in. It is safe for
// concurrent use; requests on it are serialised by the socket's lock.
type Conn struct {
	sock   *nl.NetlinkSocket
	seq    atomic.Uint32
	closed atomic.Bool
}

// Open opens a socket in the calling thread's network namespace. Callers that want
// another namespace run it on a thread locked inside that namespace.
func Open() (*Conn, error) {
	if err := failpoint.Check(failpoint.Op{Name: "socket", Object: "NETLINK_ROUTE"}); err != nil {
		return nil, err
	}
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	// Extended acks turn a bare EINVAL into "EINVAL: unknown device type" and the like.
	_ = s.SetExtAck(true)
	return &Conn{sock: s}, nil
}

// Close closes the socket, after any request in flight; later requests fail with
// ErrClosed. Idempotent.
func (c *Conn) Close() {
	if c.closed.CompareAndSwap(false, true) {
		c.sock.Lock()
		defer c.sock.Unlock()
		c.sock.Close()
	}
}

// newRequest builds a request. It carries no socket: nl.NetlinkRequest.Execute, which
// would open a fresh one in the calling thread's namespace, is never called. Every
// request is built by a function of its own (linkAddRequest, routeAddRequest, ...), apart
// from sending, so that the tests can compare its bytes with golden ones.
func newRequest(typ, flags int, data ...nl.NetlinkRequestData) *nl.NetlinkRequest {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Type: uint16(typ), Flags: unix.NLM_F_REQUEST | uint16(flags)},
	}
	for _, d := range data {
		req.AddData(d)
	}
	return req
}

// exec sends a request and returns the reply messages of type resType (0: any).
//
// It reads up to the kernel's verdict, not only to the first reply: a request with
// NLM_F_ECHO|NLM_F_ACK gets the echo of what was made first and the ACK or the error
// after it, and the kernel can still refuse after the echo (enslaving a new device to a
// bridge that is gone or full), undoing what it echoed. A dump ends with NLMSG_DONE.
// Replies to other sequence numbers (left by a request that failed half-way through
// reading) are skipped.
func (c *Conn) exec(req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	s := c.sock
	s.Lock()
	defer s.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	// Every request passes here, so a test can fail any step of any constructor.
	if err := failpoint.Check(failpoint.Op{Name: msgName(req.Type)}); err != nil {
		return nil, err
	}
	req.Seq = c.seq.Add(1)
	if err := s.Send(req); err != nil {
		return nil, err
	}
	pid, err := s.GetPid()
	if err != nil {
		return nil, err
	}
	dump := req.Flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	ack := req.Flags&unix.NLM_F_ACK != 0
	var out [][]byte
	interrupted := false
	for {
		msgs, from, err := s.Receive()
		if err != nil {
			return nil, err
		}
		if from.Pid != nl.PidKernel {
			continue
		}
		for _, m := range msgs {
			if m.Header.Seq != req.Seq || m.Header.Pid != pid {
				continue
			}
			if m.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR, unix.NLMSG_DONE:
				if err := verdict(m); err != nil {
					return nil, err
				}
				if interrupted {
					return out, nl.ErrDumpInterrupted
				}
				return out, nil
			}
			if resType == 0 || m.Header.Type == resType {
				out = append(out, m.Data)
			}
			if !dump && !ack && m.Header.Flags&unix.NLM_F_MULTI == 0 {
				return out, nil // nothing more will come
			}
		}
	}
}

var msgNames = map[uint16]string{
	unix.RTM_NEWLINK: "RTM_NEWLINK", unix.RTM_DELLINK: "RTM_DELLINK", unix.RTM_GETLINK: "RTM_GETLINK",
	unix.RTM_NEWADDR: "RTM_NEWADDR", unix.RTM_DELADDR: "RTM_DELADDR", unix.RTM_GETADDR: "RTM_GETADDR",
	unix.RTM_NEWROUTE: "RTM_NEWROUTE", unix.RTM_DELROUTE: "RTM_DELROUTE", unix.RTM_GETROUTE: "RTM_GETROUTE",
	unix.RTM_NEWNEIGH: "RTM_NEWNEIGH", unix.RTM_DELNEIGH: "RTM_DELNEIGH", unix.RTM_GETNEIGH: "RTM_GETNEIGH",
	unix.RTM_NEWQDISC: "RTM_NEWQDISC", unix.RTM_DELQDISC: "RTM_DELQDISC", unix.RTM_GETQDISC: "RTM_GETQDISC",
	unix.RTM_GETNSID: "RTM_GETNSID",
}

// msgName names a request's message type for failpoint.
func msgName(t uint16) string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("RTM_%d", t)
}

// verdict decodes an NLMSG_ERROR (errno 0: the ACK) or NLMSG_DONE message, annotating
// the errno with the kernel's extended-ack message when there is one.
func verdict(m syscall.NetlinkMessage) error {
	b := m.Data
	if len(b) < 4 {
		if m.Header.Type == unix.NLMSG_DONE {
			return nil // a dump's end may carry no payload
		}
		return fmt.Errorf("rtnl: short netlink error message (%d bytes)", len(b))
	}
	errno := int32(nl.NativeEndian().Uint32(b))
	if errno == 0 {
		return nil
	}
	err := error(syscall.Errno(-errno))
	if m.Header.Flags&unix.NLM_F_ACK_TLVS == 0 {
		return err
	}
	tlvs := b[4:]
	if m.Header.Type == unix.NLMSG_ERROR {
		// The attributes follow a copy of the request: its header only when capped.
		// Compared as uint32: on 32-bit platforms int(a length near 2³²) is negative.
		skip := uint32(unix.SizeofNlMsghdr)
		if m.Header.Flags&unix.NLM_F_CAPPED == 0 && len(tlvs) >= unix.SizeofNlMsghdr {
			skip = nl.NativeEndian().Uint32(tlvs)
		}
		if skip > uint32(len(tlvs)) {
			return err
		}
		skip = min(uint32(len(tlvs)), (skip+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1))
		tlvs = tlvs[skip:]
	}
	if msg := str(attrs(tlvs, 0)[nl.NLMSGERR_ATTR_MSG]); msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// dump runs a dump request, restarting it when concurrent changes interrupt it, so the
// result is always one consistent snapshot.
func (c *Conn) dump(req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	for i := 0; ; i++ {
		msgs, err := c.exec(req, resType)
		if errors.Is(err, nl.ErrDumpInterrupted) && i < dumpRetries {
			continue
		}
		return msgs, err
	}
}

// dumpRequest builds a dump request of type typ.
func dumpRequest(typ int, data ...nl.NetlinkRequestData) *nl.NetlinkRequest {
	return newRequest(typ, unix.NLM_F_DUMP, data...)
}

// attrs parses the attributes that follow a fixed-size header of hdrLen bytes. A
// malformed attribute ends the walk: those before it are kept.
//
// It does not use nl.ParseRouteAttr, which panics on a last attribute whose length is
// not a multiple of 4 when the message ends unpadded right after it.
func attrs(b []byte, hdrLen int) map[uint16][]byte {
	m := map[uint16][]byte{}
	hdrLen = align(hdrLen)
	if len(b) < hdrLen {
		return m
	}
	for b = b[hdrLen:]; len(b) >= unix.SizeofRtAttr; {
		l := int(nl.NativeEndian().Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		m[nl.NativeEndian().Uint16(b[2:])&nlaTypeMask] = b[unix.SizeofRtAttr:l:l]
		b = b[min(align(l), len(b)):]
	}
	return m
}

// align rounds n up to the attribute alignment, 4.
func align(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return nl.NativeEndian().Uint32(b)
}

func u16(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return nl.NativeEndian().Uint16(b)
}

func str(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
