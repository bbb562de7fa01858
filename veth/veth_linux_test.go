package veth_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

var pfx = netip.MustParsePrefix

func TestIntegrationPairAcrossNamespaces(t *testing.T) {
	a, b := netnsxtest.New(t), netnsxtest.New(t)
	macA := net.HardwareAddr{0x02, 0, 0, 0, 0xaa, 0x01}
	macB := net.HardwareAddr{0x02, 0, 0, 0, 0xbb, 0x01}
	p, err := veth.Create(veth.Config{
		A:   veth.End{NS: a, Name: "eth0", HardwareAddr: macA, Addrs: []netip.Prefix{pfx("10.0.0.1/24"), pfx("fd00::1/64")}},
		B:   veth.End{NS: b, Name: "eth0", HardwareAddr: macB, Addrs: []netip.Prefix{pfx("10.0.0.2/24"), pfx("fd00::2/64")}},
		MTU: 9000,
	})
	require.NoError(t, err, "the same name in two namespaces is fine")

	va, vb := iptest.Links(t, a.Name())["eth0"], iptest.Links(t, b.Name())["eth0"]
	for _, c := range []struct {
		view iptest.Link
		link *netnsx.Link
		mac  net.HardwareAddr
	}{{va, p.A, macA}, {vb, p.B, macB}} {
		require.Equal(t, "veth", c.view.Linkinfo.InfoKind)
		require.Equal(t, c.view.Ifindex, c.link.Index())
		require.Equal(t, 9000, c.view.MTU)
		require.Equal(t, c.mac.String(), c.view.Address)
		require.Equal(t, "UP", c.view.Operstate, "Create returns once both ends carry traffic")
		require.Equal(t, "noqueue", c.view.Qdisc, "queueing attached: the first packet is not dropped")
		require.NotNil(t, c.view.LinkNetns)
	}
	require.Equal(t, vb.Ifindex, va.LinkIndex, "A's peer is B")
	require.Equal(t, va.Ifindex, vb.LinkIndex, "B's peer is A")
	addrs, err := p.A.Addrs()
	require.NoError(t, err)
	require.Contains(t, addrs, pfx("10.0.0.1/24"))
	require.Contains(t, addrs, pfx("fd00::1/64"))
	require.Contains(t, addrsIn(t, a.Name()), "fd00::1/64", "ip sees the IPv6 address")
	netnsxtest.RequireTCP(t, a, b, "10.0.0.2:8081")
	netnsxtest.RequireTCP(t, b, a, "[fd00::1]:8081")

	_, err = veth.Create(veth.Config{A: veth.End{NS: a, Name: "eth0"}, B: veth.End{NS: b, Name: "eth1"}})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorIs(t, err, unix.EEXIST)
	require.NotContains(t, iptest.Links(t, b.Name()), "eth1", "a failed create leaves no peer")

	require.NoError(t, p.Delete())
	require.NotContains(t, iptest.Links(t, a.Name()), "eth0")
	require.NotContains(t, iptest.Links(t, b.Name()), "eth0")
}

func addrsIn(t *testing.T, ns string) []string {
	var out []string
	for _, l := range iptest.Links(t, ns) {
		for _, a := range l.AddrInfo {
			out = append(out, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
		}
	}
	return out
}

func TestIntegrationPairInOneNamespace(t *testing.T) {
	ns := netnsxtest.New(t)
	p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "v1"}, B: veth.End{NS: ns, Name: "v2"}})
	require.NoError(t, err)
	view := iptest.Links(t, ns.Name())
	require.Equal(t, "v2", view["v1"].Link, "ip names the peer when it is in the same namespace")
	require.Equal(t, "v1", view["v2"].Link)
	require.Equal(t, p.B.Index(), view["v2"].Ifindex)
}

func TestIntegrationMasters(t *testing.T) {
	host, c := netnsxtest.New(t), netnsxtest.New(t)
	br, err := bridge.Create(host, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	brC, err := bridge.Create(c, bridge.Config{Name: "brc"})
	require.NoError(t, err)
	// Master on B only, then on both ends.
	_, err = veth.Create(veth.Config{A: veth.End{NS: c, Name: "eth0"}, B: veth.End{NS: host, Name: "veth1", Master: br.Link}})
	require.NoError(t, err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: host, Name: "veth2", Master: br.Link}, B: veth.End{NS: c, Name: "eth1", Master: brC.Link}})
	require.NoError(t, err)
	require.Equal(t, "br0", iptest.Links(t, host.Name())["veth1"].Master)
	require.Equal(t, "br0", iptest.Links(t, host.Name())["veth2"].Master)
	require.Equal(t, "brc", iptest.Links(t, c.Name())["eth1"].Master)

	_, err = veth.Create(veth.Config{A: veth.End{NS: c, Name: "eth2", Master: br.Link}, B: veth.End{NS: host, Name: "veth3"}})
	require.ErrorIs(t, err, netnsx.ErrInvalid, "a master in another namespace")
	lo, err := c.Link("lo")
	require.NoError(t, err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: c, Name: "eth2", Master: lo}, B: veth.End{NS: host, Name: "veth3"}})
	require.ErrorIs(t, err, netnsx.ErrInvalid, "a master that is not a bridge")
	require.NotContains(t, iptest.Links(t, c.Name()), "eth2")
}

// TestIntegrationAllOrNothing makes each step of Create fail in turn and checks that
// nothing remains in either namespace, and that the error names the step.
func TestIntegrationAllOrNothing(t *testing.T) {
	host, c := netnsxtest.New(t), netnsxtest.New(t)
	br, err := bridge.Create(host, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	cfg := veth.Config{
		A: veth.End{NS: c, Name: "eth0", Addrs: []netip.Prefix{pfx("10.0.0.2/24")}},
		B: veth.End{NS: host, Name: "veth1", Addrs: []netip.Prefix{pfx("10.0.0.1/24")}, Master: br.Link},
	}
	// The kernel calls of Create, in order; the last ones poll until both ends are ready.
	says := []string{"injected", "address 10.0.0.1/24 of veth1", "set eth0 up", "address 10.0.0.2/24 of eth0", "link eth0"}
	calls, err := failpoint.Walk(func() error {
		_, err := veth.Create(cfg)
		return err
	}, func(n int, err, injected error) {
		want := "wait for"
		if n <= len(says) {
			want = says[n-1]
		}
		require.ErrorIs(t, err, injected, "call %d", n)
		require.Contains(t, err.Error(), want, "call %d", n)
		require.NotContains(t, iptest.Links(t, c.Name()), "eth0", "after call %d", n)
		require.NotContains(t, iptest.Links(t, host.Name()), "veth1", "after call %d", n)
	})
	require.NoError(t, err)
	require.Greater(t, calls, len(says))
	l, err := host.Link("veth1")
	require.NoError(t, err)
	require.NoError(t, l.Delete())

	// A real late failure: the master bridge vanishes between validation and use.
	gone, err := bridge.Create(c, bridge.Config{Name: "gone"})
	require.NoError(t, err)
	require.NoError(t, gone.Delete())
	_, err = veth.Create(veth.Config{A: veth.End{NS: host, Name: "veth1"}, B: veth.End{NS: c, Name: "eth0", Master: gone.Link}})
	require.Error(t, err)
	require.NotContains(t, iptest.Links(t, c.Name()), "eth0")
	require.NotContains(t, iptest.Links(t, host.Name()), "veth1")
}

func TestCreateRefusesBadConfig(t *testing.T) {
	defer failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return errors.New("stop")
	})()
	ok := veth.End{Name: "v0"}
	for _, cfg := range []veth.Config{
		{},
		{A: ok},
		{A: ok, B: veth.End{Name: "v0"}},
		{A: ok, B: veth.End{Name: "a:b"}},
		{A: ok, B: veth.End{Name: "veth-name-too-long"}},
		{A: ok, B: veth.End{Name: "v1", HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}},
		{A: ok, B: veth.End{Name: "v1", HardwareAddr: net.HardwareAddr{2, 0, 0}}},
		{A: ok, B: veth.End{Name: "v1", Addrs: []netip.Prefix{pfx("0.0.0.0/8")}}},
		{A: ok, B: veth.End{Name: "v1"}, MTU: 65536},
		{A: ok, B: veth.End{Name: "v1"}, MTU: -1},
	} {
		_, err := veth.Create(cfg) // both ends in the host: refusing first is what keeps it safe
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%+v", cfg)
		require.Contains(t, err.Error(), "veth: create")
	}
	var p *veth.Pair
	require.ErrorIs(t, p.Delete(), netnsx.ErrInvalid)
}
