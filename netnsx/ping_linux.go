package netnsx

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/nstopo/nstopo/internal/check"
	"github.com/nstopo/nstopo/internal/errdefs"
)

// ICMP message types for echo.
const (
	icmpv4EchoRequest = 8
	icmpv4EchoReply   = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// Ping sends one ICMP (or ICMPv6) echo request from inside the namespace and returns
// the round-trip time of the reply. It needs no ping binary: it speaks ICMP on a raw
// socket made in the namespace (CAP_NET_RAW). It gives up when ctx ends, with ctx's
// error.
func (ns *NS) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	to, err := ns.target(dst)
	if err != nil {
		return 0, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, err)
	}
	conn, err := ns.icmpConn(ctx, to)
	if err != nil {
		return 0, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, errdefs.Kernel(err, "CAP_NET_RAW"))
	}
	defer func() { _ = conn.Close() }()
	rtt, err := echo(ctx, conn, to, 0)
	if err != nil {
		return 0, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, err)
	}
	return rtt, nil
}

// PingStats sends count echo requests, interval apart, and summarises the replies, as
// `ping -c count -i interval` does. Lost replies are counted, not errors; it fails only
// when it cannot send, or when ctx ends first.
func (ns *NS) PingStats(ctx context.Context, dst netip.Addr, count int, interval time.Duration) (PingStats, error) {
	var st PingStats
	if count < 1 || interval < 0 {
		return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, errdefs.Invalid("count %d and interval %v", count, interval))
	}
	to, err := ns.target(dst)
	if err != nil {
		return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, err)
	}
	conn, err := ns.icmpConn(ctx, to)
	if err != nil {
		return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, errdefs.Kernel(err, "CAP_NET_RAW"))
	}
	defer func() { _ = conn.Close() }()
	var sum time.Duration
	for seq := 0; seq < count; seq++ {
		if seq > 0 {
			select {
			case <-ctx.Done():
				return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, ctx.Err())
			case <-time.After(interval):
			}
		}
		// Each request waits at most one interval (or one second) for its reply.
		wait := max(interval, time.Second)
		rctx, cancel := context.WithTimeout(ctx, wait)
		rtt, err := echo(rctx, conn, to, uint16(seq))
		cancel()
		st.Sent++
		if ctx.Err() != nil {
			return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, ctx.Err())
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue // lost
			}
			return st, fmt.Errorf("netnsx: ping %s from %s: %w", dst, ns, err)
		}
		st.Received++
		sum += rtt
		if st.Min == 0 || rtt < st.Min {
			st.Min = rtt
		}
		st.Max = max(st.Max, rtt)
	}
	if st.Received > 0 {
		st.Avg = sum / time.Duration(st.Received)
	}
	return st, nil
}

// target checks dst, and turns an interface name in its zone into that interface's
// index in this namespace (see zoneIndex).
func (ns *NS) target(dst netip.Addr) (netip.Addr, error) {
	if err := check.UnicastZone("destination", dst); err != nil {
		return dst, err
	}
	index, err := ns.zoneIndex(dst.Zone())
	if err != nil {
		return dst, err
	}
	return dst.WithZone(index), nil
}

// icmpConn opens a raw ICMP socket of dst's family inside the namespace.
func (ns *NS) icmpConn(ctx context.Context, dst netip.Addr) (net.PacketConn, error) {
	network := "ip4:icmp"
	if dst.Is6() {
		network = "ip6:ipv6-icmp"
	}
	var conn net.PacketConn
	err := ns.do(func() (err error) {
		var lc net.ListenConfig
		conn, err = lc.ListenPacket(ctx, network, "")
		return err
	})
	return conn, err
}

// echo sends one request with a random identifier and waits for the matching reply.
// It writes the 8-byte echo header itself rather than use golang.org/x/net/icmp: that
// would make x/net's icmp, ipv4 and ipv6 packages direct dependencies of every program
// using netnsx to replace the header, a checksum and a five-field comparison, and
// would not remove the need for a raw socket (unprivileged ICMP sockets depend on
// net.ipv4.ping_group_range, which a new namespace leaves closed).
func echo(ctx context.Context, conn net.PacketConn, dst netip.Addr, seq uint16) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var id [2]byte
	_, _ = rand.Read(id[:])
	req := make([]byte, 8+16)
	req[0] = icmpv4EchoRequest
	reply := byte(icmpv4EchoReply)
	if dst.Is6() {
		req[0], reply = icmpv6EchoRequest, icmpv6EchoReply // the kernel fills the checksum
	}
	copy(req[4:6], id[:])
	binary.BigEndian.PutUint16(req[6:8], seq)
	copy(req[8:], "nstopo ping data")
	if dst.Is4() {
		binary.BigEndian.PutUint16(req[2:4], checksum(req))
	}

	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	start := time.Now()
	if _, err := conn.WriteTo(req, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}); err != nil {
		return 0, errdefs.Kernel(err, "CAP_NET_RAW")
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, context.DeadlineExceeded
			}
			return 0, err
		}
		// A raw socket sees every ICMP message in the namespace: keep only our reply.
		if n >= 8 && buf[0] == reply && buf[4] == id[0] && buf[5] == id[1] &&
			binary.BigEndian.Uint16(buf[6:8]) == seq && sameIP(from, dst) {
			return time.Since(start), nil
		}
	}
}

func sameIP(a net.Addr, b netip.Addr) bool {
	ip, ok := a.(*net.IPAddr)
	if !ok {
		return false
	}
	got, ok := netip.AddrFromSlice(ip.IP)
	return ok && got.Unmap() == b.WithZone("")
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
