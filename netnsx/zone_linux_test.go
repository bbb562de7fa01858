package netnsx_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// linkLocalPair joins a and b with a veth pair whose ends carry the given names and the
// link-local addresses fe80::<aHost>/64 and fe80::<bHost>/64.
func linkLocalPair(t *testing.T, a, b *netnsx.NS, aName, bName, aAddr, bAddr string) *veth.Pair {
	t.Helper()
	p, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: aName, Addrs: []netip.Prefix{netip.MustParsePrefix(aAddr + "/64")}},
		B: veth.End{NS: b, Name: bName, Addrs: []netip.Prefix{netip.MustParsePrefix(bAddr + "/64")}},
	})
	require.NoError(t, err)
	return p
}

// requireFrom checks that ip is an address of the interface ifname in ns.
func requireFrom(t *testing.T, ns *netnsx.NS, ifname string, ip net.IP) {
	t.Helper()
	l, err := ns.Link(ifname)
	require.NoError(t, err)
	addrs, err := l.Addrs()
	require.NoError(t, err)
	from, ok := netip.AddrFromSlice(ip)
	require.True(t, ok, "%v", ip)
	for _, p := range addrs {
		if p.Addr() == from {
			return
		}
	}
	t.Fatalf("%s is not an address of %s in %s (%v)", from, ifname, ns, addrs)
}

// TestIntegrationZones: fe80::b%name names an interface of the namespace the call runs
// in, never one of the host, whose names Go's process-wide zone cache holds.
func TestIntegrationZones(t *testing.T) {
	a, b := netnsxtest.New(t), netnsxtest.New(t)
	// Names that exist nowhere but in these namespaces.
	an, bn, nowhere := netnsxtest.Name(15), netnsxtest.Name(15), netnsxtest.Name(15)
	linkLocalPair(t, a, b, an, bn, "fe80::a", "fe80::b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := a.Ping(ctx, netip.MustParseAddr("fe80::b%"+an))
	require.NoError(t, err, "ping fe80::b%%%s", an)

	// TCP: listen on b's end by name, dial from a's end by name, and let ss (in b) say
	// which interface the listener is bound to.
	l, err := b.Listen(ctx, "tcp6", "[fe80::b%"+bn+"]:9000")
	require.NoError(t, err)
	defer l.Close()
	out, err := exec.Command("ip", "netns", "exec", b.Name(), "ss", "-Hltn").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "[fe80::b]%"+bn+":9000", "ss in %s", b)
	peer := make(chan net.Addr, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			peer <- c.RemoteAddr()
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := a.Dial(ctx, "tcp6", "[fe80::b%"+an+"]:9000")
	require.NoError(t, err)
	requireFrom(t, a, an, (<-peer).(*net.TCPAddr).IP)
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	got := make([]byte, 5)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	c.Close()

	// UDP the same way, the datagram's source naming a's end.
	pc, err := b.ListenPacket(ctx, "udp6", "[fe80::b%"+bn+"]:9001")
	require.NoError(t, err)
	defer pc.Close()
	c, err = a.Dial(ctx, "udp6", "[fe80::b%"+an+"]:9001")
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hi"))
	require.NoError(t, err)
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, from, err := pc.ReadFrom(got)
	require.NoError(t, err)
	require.Equal(t, "hi", string(got[:n]))
	requireFrom(t, a, an, from.(*net.UDPAddr).IP)

	// A name that exists nowhere is not found, whatever the host has.
	_, err = a.Ping(ctx, netip.MustParseAddr("fe80::b%"+nowhere))
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = a.Dial(ctx, "tcp6", "[fe80::b%"+nowhere+"]:9000")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = b.Listen(ctx, "tcp6", "[fe80::b%"+nowhere+"]:9002")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = b.ListenPacket(ctx, "udp6", "[fe80::b%"+nowhere+"]:9002")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = b.ListenPacket(ctx, "ip6:ipv6-icmp", "fe80::b%"+nowhere)
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = a.Dial(ctx, "tcp6", "[fe80::b%a/b]:9000")
	require.ErrorIs(t, err, netnsx.ErrInvalid)

	// A name the host has: not found in a namespace that lacks it; resolved to the
	// namespace's own interface, whatever its index in the host, once there is one.
	host, err := net.Interfaces() // read only, to find a name the host's cache holds
	require.NoError(t, err)
	var hostName string
	var hostIndex int
	for _, h := range host {
		if h.Name != "lo" && len(h.Name) <= 15 {
			hostName, hostIndex = h.Name, h.Index
			break
		}
	}
	if hostName == "" {
		t.Log("the host has no interface but lo: the host-name cases are skipped")
		return
	}
	_, err = a.Ping(ctx, netip.MustParseAddr("fe80::c%"+hostName))
	require.ErrorIs(t, err, netnsx.ErrNotFound, "%s exists in the host, not in %s", hostName, a)
	_, err = a.Dial(ctx, "tcp6", "[fe80::c%"+hostName+"]:9000")
	require.ErrorIs(t, err, netnsx.ErrNotFound, "%s exists in the host, not in %s", hostName, a)

	bn2 := netnsxtest.Name(15)
	linkLocalPair(t, a, b, hostName, bn2, "fe80::a", "fe80::c")
	mine, err := a.Link(hostName)
	require.NoError(t, err)
	if mine.Index() == hostIndex {
		t.Logf("%s has index %d in the host and in %s: the index case proves nothing here", hostName, hostIndex, a)
	}
	_, err = a.Ping(ctx, netip.MustParseAddr("fe80::c%"+hostName))
	require.NoError(t, err, "ping fe80::c%%%s: %s is index %d in %s, %d in the host", hostName, hostName, mine.Index(), a, hostIndex)
	l2, err := b.Listen(ctx, "tcp6", "[fe80::c%"+bn2+"]:0")
	require.NoError(t, err)
	defer l2.Close()
	port := strconv.Itoa(l2.Addr().(*net.TCPAddr).Port)
	c, err = a.Dial(ctx, "tcp6", net.JoinHostPort("fe80::c%"+hostName, port))
	require.NoError(t, err)
	c.Close()
}
