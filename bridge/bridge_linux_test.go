package bridge_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

var pfx = netip.MustParsePrefix

func addrsOf(l iptest.Link) []string {
	var out []string
	for _, a := range l.AddrInfo {
		if a.Family == "inet" {
			out = append(out, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
		}
	}
	return out
}

// TestIntegrationArticleTopology builds "手动创建一个网络拓扑" and checks it with ip and
// bridge, then sends TCP across it.
func TestIntegrationArticleTopology(t *testing.T) {
	host, c1, c2 := netnsxtest.New(t), netnsxtest.New(t), netnsxtest.New(t)
	br, err := bridge.Create(host, bridge.Config{Name: "br0", Addrs: []netip.Prefix{pfx("172.16.1.1/16")}})
	require.NoError(t, err)
	var macs []net.HardwareAddr
	for i, c := range []*netnsx.NS{c1, c2} {
		p, err := veth.Create(veth.Config{
			A: veth.End{NS: host, Name: fmt.Sprintf("veth%d", i+1), Master: br.Link},
			B: veth.End{NS: c, Name: "eth0", Addrs: []netip.Prefix{pfx(fmt.Sprintf("172.16.1.%d/16", i+2))}},
		})
		require.NoError(t, err)
		mac, err := p.B.HardwareAddr()
		require.NoError(t, err)
		macs = append(macs, mac)
	}

	hostView := iptest.Links(t, host.Name())
	require.Equal(t, "bridge", hostView["br0"].Linkinfo.InfoKind)
	require.Contains(t, hostView["br0"].Flags, "UP")
	require.Equal(t, []string{"172.16.1.1/16"}, addrsOf(hostView["br0"]))
	for _, port := range []string{"veth1", "veth2"} {
		require.Equal(t, "br0", hostView[port].Master, port)
		require.Equal(t, "bridge", hostView[port].Linkinfo.InfoSlaveKind, port)
		require.Equal(t, "UP", hostView[port].Operstate, port)
	}
	for i, c := range []*netnsx.NS{c1, c2} {
		eth0 := iptest.Links(t, c.Name())["eth0"]
		require.Equal(t, "veth", eth0.Linkinfo.InfoKind)
		require.Equal(t, "UP", eth0.Operstate)
		require.Equal(t, []string{fmt.Sprintf("172.16.1.%d/16", i+2)}, addrsOf(eth0))
		require.Equal(t, macs[i].String(), eth0.Address)
		require.NotNil(t, eth0.LinkNetns, "the peer lives in another namespace")
		require.Equal(t, hostView[fmt.Sprintf("veth%d", i+1)].Ifindex, eth0.LinkIndex, "eth0's peer is veth%d", i+1)
	}

	ports, err := br.Ports()
	require.NoError(t, err)
	var names []string
	for _, p := range ports {
		names = append(names, p.Name())
	}
	slices.Sort(names)
	require.Equal(t, []string{"veth1", "veth2"}, names)

	netnsxtest.RequireTCP(t, c1, c2, "172.16.1.3:8081")   // container to container, the incident's port
	netnsxtest.RequireTCP(t, c2, host, "172.16.1.1:8081") // container to the bridge's address

	// After traffic the bridge has learned both containers; both views agree.
	fdb, err := br.FDB()
	require.NoError(t, err)
	mine := map[string]string{}
	for _, e := range fdb {
		if !e.Self {
			mine[e.HardwareAddr.String()] = e.Dev
		}
	}
	theirs := map[string]string{}
	for _, e := range iptest.FDBs(t, host.Name()) {
		if e.Master == "br0" {
			theirs[e.MAC] = e.Dev
		}
	}
	require.Equal(t, theirs, mine)
	require.Equal(t, "veth1", mine[macs[0].String()])
	require.Equal(t, "veth2", mine[macs[1].String()])

	opened, err := bridge.Open(host, "br0")
	require.NoError(t, err)
	require.Equal(t, br.Index(), opened.Index())
	_, err = bridge.Open(host, "veth1")
	require.ErrorIs(t, err, netnsx.ErrInvalid, "a veth is not a bridge")
	_, err = bridge.Open(host, "br9")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	_, err = bridge.Create(host, bridge.Config{Name: "br0"})
	require.ErrorIs(t, err, netnsx.ErrExists)
}

func TestIntegrationBridgeOptions(t *testing.T) {
	ns := netnsxtest.New(t)
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0x0b, 0x01}
	_, err := bridge.Create(ns, bridge.Config{Name: "br1", MTU: 9000, HardwareAddr: mac, STP: true})
	require.NoError(t, err)
	_, err = bridge.Create(ns, bridge.Config{Name: "br2"})
	require.NoError(t, err)
	view := iptest.Links(t, ns.Name())
	require.Equal(t, 9000, view["br1"].MTU)
	require.Equal(t, mac.String(), view["br1"].Address)
	require.EqualValues(t, 1, view["br1"].Linkinfo.InfoData["stp_state"])
	require.EqualValues(t, 0, view["br2"].Linkinfo.InfoData["stp_state"], "STP is off unless asked, as with ip")
	require.EqualValues(t, 0, view["br2"].Linkinfo.InfoData["vlan_filtering"])
	require.Equal(t, 1500, view["br2"].MTU)

	// Kernels built without CONFIG_BRIDGE_VLAN_FILTERING refuse it; that must say so
	// and leave nothing behind.
	_, err = bridge.Create(ns, bridge.Config{Name: "br3", VLANFiltering: true})
	if errors.Is(err, netnsx.ErrNotSupported) {
		t.Logf("this kernel has no VLAN filtering: %v", err)
		require.NotContains(t, iptest.Links(t, ns.Name()), "br3")
		return
	}
	require.NoError(t, err)
	require.EqualValues(t, 1, iptest.Links(t, ns.Name())["br3"].Linkinfo.InfoData["vlan_filtering"])
}

func TestIntegrationAttach(t *testing.T) {
	ns, other := netnsxtest.New(t), netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "p1"}, B: veth.End{NS: ns, Name: "p2"}})
	require.NoError(t, err)
	far, err := veth.Create(veth.Config{A: veth.End{NS: other, Name: "q1"}, B: veth.End{NS: other, Name: "q2"}})
	require.NoError(t, err)

	require.ErrorIs(t, br.Attach(p.A, far.A), netnsx.ErrInvalid, "a port in another namespace")
	require.Empty(t, iptest.Links(t, ns.Name())["p1"].Master, "nothing attached when one port is refused")
	require.ErrorIs(t, br.Attach(nil), netnsx.ErrInvalid)
	require.ErrorIs(t, p.A.SetMaster(p.B), netnsx.ErrInvalid, "a veth is not a bridge")

	require.NoError(t, br.Attach(p.A, p.B))
	view := iptest.Links(t, ns.Name())
	require.Equal(t, "br0", view["p1"].Master)
	require.Equal(t, "br0", view["p2"].Master)
	require.NoError(t, p.A.SetMaster(nil))
	require.Empty(t, iptest.Links(t, ns.Name())["p1"].Master)
}

func TestCreateRefusesBadConfig(t *testing.T) {
	defer failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return errors.New("stop")
	})()
	for _, cfg := range []bridge.Config{
		{},
		{Name: "br/0"},
		{Name: "bridge-name-too-long"},
		{Name: "br0", MTU: 67},
		{Name: "br0", MTU: 65536},
		{Name: "br0", HardwareAddr: net.HardwareAddr{1, 0, 0, 0, 0, 1}},
		{Name: "br0", HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}},
		{Name: "br0", Addrs: []netip.Prefix{{}}},
		{Name: "br0", Addrs: []netip.Prefix{pfx("224.0.0.1/24")}},
	} {
		// nil is the host namespace: refusing before any syscall is what keeps it safe.
		_, err := bridge.Create(nil, cfg)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%+v", cfg)
		require.Contains(t, err.Error(), "bridge: create")
	}
}

func TestIntegrationCreateAllOrNothing(t *testing.T) {
	ns := netnsxtest.New(t)
	// Every kernel call of Create fails in turn; none may leave the bridge behind.
	calls, err := failpoint.Walk(func() error {
		_, err := bridge.Create(ns, bridge.Config{Name: "br0", Addrs: []netip.Prefix{pfx("10.1.0.1/24"), pfx("10.2.0.1/24")}})
		return err
	}, func(n int, err, injected error) {
		require.ErrorIs(t, err, injected)
		require.NotContains(t, iptest.Links(t, ns.Name()), "br0", "left behind after call %d failed", n)
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, calls, 3, "link and two addresses")
	br, err := bridge.Open(ns, "br0")
	require.NoError(t, err)
	require.NoError(t, br.Delete())
	br, err = bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	l, err := ns.Link("br0")
	require.NoError(t, err)
	require.Same(t, l.NS(), br.NS(), "Create's link holds the handle given, as Link's does")
	require.NoError(t, br.Delete())

	// A real late failure: IPv6 is off in the namespace, so the second address fails
	// after the bridge exists.
	require.NoError(t, ns.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0o644)
	}))
	_, err = bridge.Create(ns, bridge.Config{Name: "br0", Addrs: []netip.Prefix{pfx("10.1.0.1/24"), pfx("fd00::1/64")}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "fd00::1/64")
	require.NotContains(t, iptest.Links(t, ns.Name()), "br0")
}
