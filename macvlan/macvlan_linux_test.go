package macvlan_test

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/macvlan"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/stretchr/testify/require"
)

var pfx = netip.MustParsePrefix

// uplink makes the simulated host's parent device: one end of a veth pair whose other
// end stays beside it, up, so the parent carries traffic (this kernel has no dummy).
func uplink(t testing.TB, host *netnsx.NS) *netnsx.Link {
	t.Helper()
	p, err := veth.Create(veth.Config{A: veth.End{NS: host, Name: "uplink"}, B: veth.End{NS: host, Name: "wire"}})
	require.NoError(t, err)
	return p.A
}

// pair makes one macvlan in each of two new namespaces on one parent, in mode m.
func pair(t *testing.T, m macvlan.Mode) (host, c1, c2 *netnsx.NS, l1, l2 *macvlan.Link) {
	t.Helper()
	host, c1, c2 = netnsxtest.New(t, "host"), netnsxtest.New(t, "c1"), netnsxtest.New(t, "c2")
	parent := uplink(t, host)
	var err error
	l1, err = macvlan.Create(host, macvlan.Config{Name: "eth0", Parent: parent, Mode: m, NS: c1, Addrs: []netip.Prefix{pfx("192.168.50.2/24")}})
	require.NoError(t, err)
	l2, err = macvlan.Create(host, macvlan.Config{Name: "eth0", Parent: parent, Mode: m, NS: c2, Addrs: []netip.Prefix{pfx("192.168.50.3/24")}})
	require.NoError(t, err)
	return host, c1, c2, l1, l2
}

// Docker's macvlan network: two containers on one parent in bridge mode reach each
// other; ip agrees on kind, mode, namespace and state.
func TestIntegrationBridgeMode(t *testing.T) {
	host, c1, c2, l1, l2 := pair(t, macvlan.Bridge)
	for _, c := range []struct {
		ns *netnsx.NS
		l  *macvlan.Link
	}{{c1, l1}, {c2, l2}} {
		v := iptest.Links(t, c.ns.Name())["eth0"]
		require.Equal(t, "macvlan", v.Linkinfo.InfoKind)
		require.Equal(t, "bridge", v.Linkinfo.InfoData["mode"])
		require.Equal(t, c.l.Index(), v.Ifindex)
		require.Equal(t, "UP", v.Operstate, "Create returns once the link carries traffic")
		require.NotNil(t, v.LinkNetns, "the parent is in another namespace")
		require.Contains(t, v.AddrInfo[0].Local, "192.168.50.")
		require.True(t, c.l.NS().SameNamespace(c.ns), "the handle is in the namespace it was placed in")
		m, err := c.l.Mode()
		require.NoError(t, err)
		require.Equal(t, macvlan.Bridge, m)
	}
	require.NotContains(t, iptest.Links(t, host.Name()), "eth0", "nothing made in the parent's namespace")
	netnsxtest.RequireTCP(t, c1, c2, "192.168.50.3:8080")
	netnsxtest.RequireTCP(t, c2, c1, "192.168.50.2:8080")

	o, err := macvlan.Open(c1, "eth0")
	require.NoError(t, err)
	require.Equal(t, l1.Index(), o.Index())
	_, err = macvlan.Open(c1, "lo")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = macvlan.Open(c1, "nope")
	require.ErrorIs(t, err, netnsx.ErrNotFound)

	require.NoError(t, l1.Delete())
	require.NotContains(t, iptest.Links(t, c1.Name()), "eth0")
}

// Private mode: the two containers never reach each other.
func TestIntegrationPrivateMode(t *testing.T) {
	_, c1, _, _, l2 := pair(t, macvlan.Private)
	require.Equal(t, "private", iptest.Links(t, c1.Name())["eth0"].Linkinfo.InfoData["mode"])
	m, err := l2.Mode()
	require.NoError(t, err)
	require.Equal(t, macvlan.Private, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c1.Ping(ctx, netip.MustParseAddr("192.168.50.3"))
	require.Error(t, err, "private macvlans must not reach each other")
}

// The zero Mode is what ip makes when given no mode; ip's own link says which.
func TestIntegrationZeroModeIsIPDefault(t *testing.T) {
	host := netnsxtest.New(t)
	parent := uplink(t, host)
	out, err := exec.Command(iptest.Tool("ip"), "-n", host.Name(), "link", "add", "link", "uplink", "name", "byip", "type", "macvlan").CombinedOutput()
	require.NoError(t, err, "%s", out)
	l, err := macvlan.Create(host, macvlan.Config{Name: "bylib", Parent: parent, NS: host, MTU: 1400,
		HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0x50, 1}})
	require.NoError(t, err)
	links := iptest.Links(t, host.Name())
	require.Equal(t, links["byip"].Linkinfo.InfoData["mode"], links["bylib"].Linkinfo.InfoData["mode"])
	require.Equal(t, "vepa", links["bylib"].Linkinfo.InfoData["mode"])
	require.Equal(t, "uplink", links["bylib"].Link, "the parent, beside it")
	require.Equal(t, 1400, links["bylib"].MTU)
	require.Equal(t, "02:00:00:00:50:01", links["bylib"].Address)
	require.True(t, l.NS().SameNamespace(host))
	m, err := l.Mode()
	require.NoError(t, err)
	require.Equal(t, macvlan.VEPA, m)
	require.Equal(t, "vepa", m.String())
}

func TestIntegrationHostileInput(t *testing.T) {
	host, other, c := netnsxtest.New(t, "host"), netnsxtest.New(t, "other"), netnsxtest.New(t, "c")
	parent := uplink(t, host)
	elsewhere := uplink(t, other)
	closed, err := netnsx.New("mvclosed-" + netnsxtest.Name(0))
	require.NoError(t, err)
	require.NoError(t, closed.Delete())
	_, err = macvlan.Create(host, macvlan.Config{Name: "pt0", Parent: parent, Mode: macvlan.Passthru, NS: c})
	require.NoError(t, err)
	wire, err := host.Link("wire")
	require.NoError(t, err)

	ok := macvlan.Config{Name: "mv0", Parent: parent, Mode: macvlan.Bridge, NS: c}
	for _, tc := range []struct {
		name   string
		ns     *netnsx.NS
		mut    func(*macvlan.Config)
		want   error
		says   string
		kernel bool // refused by the kernel, not before
	}{
		{"nil ns", nil, nil, netnsx.ErrInvalid, "nil namespace", false},
		{"nil parent", host, func(c *macvlan.Config) { c.Parent = nil }, netnsx.ErrInvalid, "Parent is nil", false},
		{"nil NS", host, func(c *macvlan.Config) { c.NS = nil }, netnsx.ErrInvalid, "NS is nil", false},
		{"parent elsewhere", host, func(c *macvlan.Config) { c.Parent = elsewhere }, netnsx.ErrInvalid, "not in", false},
		{"empty name", host, func(c *macvlan.Config) { c.Name = "" }, netnsx.ErrInvalid, "Name", false},
		{"slash name", host, func(c *macvlan.Config) { c.Name = "a/b" }, netnsx.ErrInvalid, "Name", false},
		{"long name", host, func(c *macvlan.Config) { c.Name = strings.Repeat("m", 16) }, netnsx.ErrInvalid, "Name", false},
		{"multicast MAC", host, func(c *macvlan.Config) { c.HardwareAddr = net.HardwareAddr{1, 0, 0x5e, 0, 0, 1} }, netnsx.ErrInvalid, "multicast", false},
		{"short MAC", host, func(c *macvlan.Config) { c.HardwareAddr = net.HardwareAddr{2, 0, 0} }, netnsx.ErrInvalid, "HardwareAddr", false},
		{"MTU range", host, func(c *macvlan.Config) { c.MTU = 70000 }, netnsx.ErrInvalid, "MTU", false},
		{"bad mode", host, func(c *macvlan.Config) { c.Mode = 9 }, netnsx.ErrInvalid, "Mode 9", false},
		{"bad addr", host, func(c *macvlan.Config) { c.Addrs = []netip.Prefix{{}} }, netnsx.ErrInvalid, "Addrs", false},
		{"closed NS", host, func(c *macvlan.Config) { c.NS = closed }, netnsx.ErrInvalid, "closed", true},
		{"MTU above parent", host, func(c *macvlan.Config) { c.MTU = 9000 }, netnsx.ErrInvalid, "above the 1500 of parent uplink", true},
		{"passthru twice", host, func(c *macvlan.Config) { c.Mode = macvlan.Passthru }, netnsx.ErrInvalid, "invalid argument", true},
		{"name taken in NS", host, func(c *macvlan.Config) { c.Name = "pt0"; c.Parent = wire }, netnsx.ErrExists, "exists", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			if tc.mut != nil {
				tc.mut(&cfg)
			}
			restore := func() {}
			if !tc.kernel {
				restore = failpoint.Set(func(op failpoint.Op) error {
					t.Errorf("reached kernel call %s", op)
					return nil
				})
			}
			l, err := macvlan.Create(tc.ns, cfg)
			restore()
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, l)
			require.Contains(t, err.Error(), "macvlan: create")
			require.Contains(t, err.Error(), tc.says)
			require.NotContains(t, iptest.Links(t, c.Name()), "mv0")
			for name, v := range iptest.Links(t, host.Name()) {
				require.NotEqual(t, "macvlan", v.Linkinfo.InfoKind, "%s left in the parent's namespace", name)
			}
		})
	}
}

// Every kernel call of Create fails once; each time nothing is left in either namespace.
func TestIntegrationCreateAllOrNothing(t *testing.T) {
	host, c := netnsxtest.New(t, "host"), netnsxtest.New(t, "c")
	parent := uplink(t, host)
	cfg := macvlan.Config{Name: "eth0", Parent: parent, Mode: macvlan.Bridge, NS: c,
		Addrs: []netip.Prefix{pfx("192.168.50.2/24"), pfx("fd50::2/64")}}
	calls, err := failpoint.Walk(func() error {
		_, err := macvlan.Create(host, cfg)
		return err
	}, func(n int, err, injected error) {
		require.ErrorIs(t, err, injected, "call %d", n)
		require.NotContains(t, iptest.Links(t, c.Name()), "eth0", "after call %d", n)
		for name, v := range iptest.Links(t, host.Name()) {
			require.NotEqual(t, "macvlan", v.Linkinfo.InfoKind, "%s left after call %d", name, n)
		}
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, calls, 5, "parent, add, lookup, two addresses")
	require.Contains(t, iptest.Links(t, c.Name()), "eth0")
}
