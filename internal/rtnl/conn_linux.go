// Package rtnl is nstopo's thin rtnetlink layer: one socket per network namespace,
// requests built attribute by attribute so that every field means what `ip` means, and
// replies parsed into small structs. It builds on the message helpers of
// github.com/vishvananda/netlink/nl but never on that package's thread-following calls.
package rtnl

import (
	"errors"
	"sync/atomic"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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
	socks  map[int]*nl.SocketHandle
	closed atomic.Bool
}

// Open opens a socket in the calling thread's network namespace. Callers that want
// another namespace run it on a thread locked inside that namespace.
func Open() (*Conn, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	// Extended acks turn a bare EINVAL into "EINVAL: unknown device type" and the like.
	_ = s.SetExtAck(true)
	return &Conn{socks: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

// Close closes the socket; later requests fail with ErrClosed. Idempotent.
func (c *Conn) Close() {
	if c.closed.CompareAndSwap(false, true) {
		c.socks[unix.NETLINK_ROUTE].Close()
	}
}

func (c *Conn) request(typ, flags int, data ...nl.NetlinkRequestData) *nl.NetlinkRequest {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Type: uint16(typ), Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  c.socks,
	}
	for _, d := range data {
		req.AddData(d)
	}
	return req
}

// exec sends a request and returns the reply messages of type resType (0: any).
func (c *Conn) exec(req *nl.NetlinkRequest, resType uint16) ([][]byte, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	return req.Execute(unix.NETLINK_ROUTE, resType)
}

// dump runs a dump request, restarting it when concurrent changes interrupt it, so the
// result is always one consistent snapshot.
func (c *Conn) dump(typ int, resType uint16, data ...nl.NetlinkRequestData) ([][]byte, error) {
	for i := 0; ; i++ {
		msgs, err := c.exec(c.request(typ, unix.NLM_F_DUMP, data...), resType)
		if errors.Is(err, nl.ErrDumpInterrupted) && i < dumpRetries {
			continue
		}
		return msgs, err
	}
}

// attrs parses the attributes that follow a fixed-size header of hdrLen bytes.
func attrs(b []byte, hdrLen int) map[uint16][]byte {
	m := map[uint16][]byte{}
	if len(b) < hdrLen {
		return m
	}
	as, err := nl.ParseRouteAttr(b[(hdrLen+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1):])
	if err != nil {
		return m
	}
	for _, a := range as {
		m[a.Attr.Type&nlaTypeMask] = a.Value
	}
	return m
}

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
