package vxlan_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

const bulk = 1 << 20

// hosts makes two "hosts" joined by an underlay veth called eth0 on both sides.
func hosts(t *testing.T, u1, u2 netip.Prefix) (*netnsx.NS, *netnsx.NS) {
	h1, h2 := netnsxtest.New(t), netnsxtest.New(t)
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: h1, Name: "eth0", Addrs: []netip.Prefix{u1}},
		B: veth.End{NS: h2, Name: "eth0", Addrs: []netip.Prefix{u2}},
	})
	require.NoError(t, err)
	return h1, h2
}

func info(t *testing.T, ns *netnsx.NS, dev string) iptest.Link {
	t.Helper()
	l, ok := iptest.Links(t, ns.Name())[dev]
	require.True(t, ok, "%s not in %s", dev, ns.Name())
	require.Equal(t, "vxlan", l.Linkinfo.InfoKind)
	return l
}

// fdbOf returns `bridge -j fdb show dev NAME` as "mac dst state flags" lines, sorted.
func fdbOf(t *testing.T, ns *netnsx.NS, dev string) []string {
	return fdbMatching(t, ns, dev, "")
}

// floodOf is fdbOf for the flood entries only: learning may add others at any moment
// (IPv6 autoconfiguration sends the first frames by itself).
func floodOf(t *testing.T, ns *netnsx.NS, dev string) []string {
	return fdbMatching(t, ns, dev, "00:00:00:00:00:00")
}

func fdbMatching(t *testing.T, ns *netnsx.NS, dev, mac string) []string {
	var out []string
	for _, e := range iptest.FDBs(t, ns.Name()) {
		if e.Dev == dev && (mac == "" || e.MAC == mac) {
			out = append(out, fmt.Sprintf("%s %s %s %v", e.MAC, e.Dst, e.State, e.Flags))
		}
	}
	slices.Sort(out)
	return out
}

// TestIntegrationArticleVXLAN is "自己实现vxlan": vxlan0 id 42 dev eth0 dstport 0, a
// flood entry to the other host, 192.168.200.1/24 and .2/24.
func TestIntegrationArticleVXLAN(t *testing.T) {
	h1, h2 := hosts(t, pfx("10.0.0.1/24"), pfx("10.0.0.2/24"))
	devs := map[*netnsx.NS]*vxlan.Device{}
	for i, h := range []*netnsx.NS{h1, h2} {
		dev, err := vxlan.Create(h, vxlan.Config{Name: "vxlan0", VNI: 42, Underlay: "eth0",
			Addrs: []netip.Prefix{pfx(fmt.Sprintf("192.168.200.%d/24", i+1))}})
		require.NoError(t, err)
		require.NoError(t, dev.AddRemote(addr(fmt.Sprintf("10.0.0.%d", 2-i))))
		require.NoError(t, dev.AddRemote(addr(fmt.Sprintf("10.0.0.%d", 2-i))), "adding a listed remote again is fine")
		devs[h] = dev
	}
	l := info(t, h1, "vxlan0")
	require.EqualValues(t, 42, l.Linkinfo.InfoData["id"])
	require.EqualValues(t, vxlan.LinuxPort, l.Linkinfo.InfoData["port"], "Port 0 is dstport 0: 8472")
	require.Equal(t, true, l.Linkinfo.InfoData["learning"], "learning is on by default, as with ip")
	require.Nil(t, l.Linkinfo.InfoData["proxy"])
	require.Equal(t, "eth0", l.Linkinfo.InfoData["link"])
	require.Equal(t, 1450, l.MTU, "the kernel derives the MTU from the 1500-byte underlay")
	require.Contains(t, l.Flags, "UP")
	require.Equal(t, []string{"00:00:00:00:00:00 10.0.0.2 permanent [self]"}, floodOf(t, h1, "vxlan0"))

	remotes, err := devs[h1].Remotes()
	require.NoError(t, err)
	require.Equal(t, []netip.Addr{addr("10.0.0.2")}, remotes)

	netnsxtest.RequireTCP(t, h1, h2, "192.168.200.2:8081")
	netnsxtest.RequireTransfer(t, h2, h1, "192.168.200.1:8081", bulk)

	// The device learned the other side's MAC; our reader and bridge agree.
	entries, err := devs[h1].FDB()
	require.NoError(t, err)
	var mine []string
	for _, e := range entries {
		state := "permanent"
		if !e.Permanent {
			state = ""
		}
		mine = append(mine, fmt.Sprintf("%s %s %s [self]", e.HardwareAddr, e.Dst, state))
	}
	slices.Sort(mine)
	require.Equal(t, fdbOf(t, h1, "vxlan0"), mine)
	mac2, err := devs[h2].HardwareAddr()
	require.NoError(t, err)
	require.Contains(t, mine, mac2.String()+" 10.0.0.2  [self]", "host1 learned host2's MAC behind 10.0.0.2")

	opened, err := vxlan.Open(h2, "vxlan0")
	require.NoError(t, err)
	require.Equal(t, devs[h2].Index(), opened.Index())
	_, err = vxlan.Open(h2, "eth0")
	require.ErrorIs(t, err, netnsx.ErrInvalid, "a veth is not a VXLAN device")
	_, err = vxlan.Open(h2, "vxlan9")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
}

func TestIntegrationCreateErrors(t *testing.T) {
	ns := netnsxtest.New(t)
	_, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 1, Underlay: "eth9"})
	require.ErrorIs(t, err, netnsx.ErrNotFound, "a missing underlay")
	require.Contains(t, err.Error(), "underlay eth9")
	_, err = vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 1})
	require.NoError(t, err)
	_, err = vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 2})
	require.ErrorIs(t, err, netnsx.ErrExists)

	// Every kernel call of Create fails in turn, the underlay's lookup first; none may
	// leave the device behind.
	_, err = bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	br, err := bridge.Open(ns, "br0")
	require.NoError(t, err)
	calls, err := failpoint.Walk(func() error {
		_, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan1", VNI: 3, Underlay: "vxlan0", Master: br.Link,
			Addrs: []netip.Prefix{pfx("10.9.0.1/24"), pfx("10.9.1.1/24")}})
		return err
	}, func(n int, err, injected error) {
		require.ErrorIs(t, err, injected)
		require.NotContains(t, iptest.Links(t, ns.Name()), "vxlan1", "left behind after call %d failed", n)
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, calls, 4, "underlay, link and two addresses")
}

// TestIntegrationStaticOverlay is the Docker/Flannel way: no learning, no flooding;
// every remote MAC has an FDB entry and every remote IP a proxied neighbour entry.
func TestIntegrationStaticOverlay(t *testing.T) {
	h1, h2 := hosts(t, pfx("10.0.0.1/24"), pfx("10.0.0.2/24"))
	macs := []net.HardwareAddr{{0x02, 0x42, 0, 0, 0, 1}, {0x02, 0x42, 0, 0, 0, 2}}
	devs := make([]*vxlan.Device, 2)
	for i, h := range []*netnsx.NS{h1, h2} {
		var err error
		devs[i], err = vxlan.Create(h, vxlan.Config{Name: "vxlan0", VNI: 256, Port: vxlan.IANAPort, Underlay: "eth0",
			Local: addr(fmt.Sprintf("10.0.0.%d", i+1)), DisableLearning: true, Proxy: true, TTL: 64, HardwareAddr: macs[i]})
		require.NoError(t, err)
		require.NoError(t, devs[i].AddAddr(pfx(fmt.Sprintf("192.168.50.%d/24", i+1))))
	}
	for i, dev := range devs {
		o := 1 - i
		require.NoError(t, dev.AddFDB(macs[o], addr(fmt.Sprintf("10.0.0.%d", o+1))))
		require.NoError(t, dev.AddNeighbor(addr(fmt.Sprintf("192.168.50.%d", o+1)), macs[o]))
	}
	l := info(t, h1, "vxlan0")
	require.Equal(t, false, l.Linkinfo.InfoData["learning"])
	require.Equal(t, true, l.Linkinfo.InfoData["proxy"])
	require.EqualValues(t, vxlan.IANAPort, l.Linkinfo.InfoData["port"])
	require.Equal(t, "10.0.0.1", l.Linkinfo.InfoData["local"])
	require.EqualValues(t, 64, l.Linkinfo.InfoData["ttl"])
	require.Equal(t, macs[0].String(), l.Address)
	require.Equal(t, []string{"02:42:00:00:00:02 10.0.0.2 permanent [self]"}, fdbOf(t, h1, "vxlan0"))
	var neigh []struct {
		Dst    string   `json:"dst"`
		Lladdr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	iptest.Run(t, &neigh, "ip", "-n", h1.Name(), "-j", "neigh", "show", "dev", "vxlan0")
	require.Len(t, neigh, 1)
	require.Equal(t, "192.168.50.2", neigh[0].Dst)
	require.Equal(t, "02:42:00:00:00:02", neigh[0].Lladdr)
	require.Equal(t, []string{"PERMANENT"}, neigh[0].State)

	netnsxtest.RequireTCP(t, h1, h2, "192.168.50.2:8081")
	netnsxtest.RequireTransfer(t, h2, h1, "192.168.50.1:8081", bulk)
	require.Equal(t, []string{"02:42:00:00:00:02 10.0.0.2 permanent [self]"}, fdbOf(t, h1, "vxlan0"), "nothing learned, nothing flooded")

	require.NoError(t, devs[0].RemoveFDB(macs[1]))
	require.NoError(t, devs[0].RemoveNeighbor(addr("192.168.50.2")))
	require.Empty(t, fdbOf(t, h1, "vxlan0"))
	iptest.Run(t, &neigh, "ip", "-n", h1.Name(), "-j", "neigh", "show", "dev", "vxlan0")
	require.Empty(t, neigh)
}

// TestIntegrationBridgedFDB: when the VXLAN device is a bridge port, AddFDB also tells
// the bridge which port the MAC is behind.
func TestIntegrationBridgedFDB(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 5, Local: addr("10.0.0.1"), Master: br.Link, DisableLearning: true})
	require.NoError(t, err)
	require.Equal(t, "br0", iptest.Links(t, ns.Name())["vxlan0"].Master)
	mac := net.HardwareAddr{0x02, 0x42, 0x0a, 0xc8, 0x02, 0x01}
	require.NoError(t, dev.AddFDB(mac, addr("10.0.0.2")))
	var master, self bool
	for _, e := range iptest.FDBs(t, ns.Name()) {
		if e.MAC == mac.String() && e.Dev == "vxlan0" {
			if e.Master == "br0" {
				master = true
				require.Equal(t, "static", e.State, "a static bridge entry, not a local one")
			} else {
				self = e.Dst == "10.0.0.2"
			}
		}
	}
	require.True(t, master, "the bridge knows the MAC is behind vxlan0")
	require.True(t, self, "vxlan0 knows the VTEP")
	entries, err := br.FDB()
	require.NoError(t, err)
	found := false
	for _, e := range entries {
		found = found || (e.HardwareAddr.String() == mac.String() && e.Dev == "vxlan0" && !e.Self)
	}
	require.True(t, found)
	require.NoError(t, dev.RemoveFDB(mac))
	for _, e := range iptest.FDBs(t, ns.Name()) {
		require.NotEqual(t, mac.String(), e.MAC)
	}
}

func TestIntegrationMulticastGroup(t *testing.T) {
	h1, h2 := hosts(t, pfx("10.0.0.1/24"), pfx("10.0.0.2/24"))
	for i, h := range []*netnsx.NS{h1, h2} {
		_, err := vxlan.Create(h, vxlan.Config{Name: "vxlan0", VNI: 100, Underlay: "eth0", Group: addr("239.1.1.1"),
			Addrs: []netip.Prefix{pfx(fmt.Sprintf("192.168.100.%d/24", i+1))}})
		require.NoError(t, err)
	}
	require.Equal(t, "239.1.1.1", info(t, h1, "vxlan0").Linkinfo.InfoData["group"])
	// The group's flood entry is the device's own, not a remote: reconciling the flood
	// list must neither list it nor remove it.
	dev, err := vxlan.Open(h1, "vxlan0")
	require.NoError(t, err)
	remotes, err := dev.Remotes()
	require.NoError(t, err)
	require.Empty(t, remotes)
	require.NoError(t, dev.SetRemotes(nil))
	require.Contains(t, floodOf(t, h1, "vxlan0"), "00:00:00:00:00:00 239.1.1.1 permanent [self]")
	netnsxtest.RequireTCP(t, h1, h2, "192.168.100.2:8081")
	netnsxtest.RequireTransfer(t, h2, h1, "192.168.100.1:8081", bulk)
}

func TestIntegrationIPv6Underlay(t *testing.T) {
	h1, h2 := hosts(t, pfx("fd00::1/64"), pfx("fd00::2/64"))
	for i, h := range []*netnsx.NS{h1, h2} {
		dev, err := vxlan.Create(h, vxlan.Config{Name: "vxlan0", VNI: 600, Underlay: "eth0", Local: addr(fmt.Sprintf("fd00::%d", i+1)),
			Addrs: []netip.Prefix{pfx(fmt.Sprintf("192.168.60.%d/24", i+1))}})
		require.NoError(t, err)
		require.ErrorIs(t, dev.AddRemote(addr("10.0.0.9")), netnsx.ErrInvalid, "an IPv4 VTEP on an IPv6 underlay")
		require.NoError(t, dev.AddRemote(addr(fmt.Sprintf("fd00::%d", 2-i))))
	}
	l := info(t, h1, "vxlan0")
	require.Equal(t, "fd00::1", l.Linkinfo.InfoData["local6"])
	require.Equal(t, 1430, l.MTU, "70 bytes of IPv6 encapsulation")
	require.Equal(t, []string{"00:00:00:00:00:00 fd00::2 permanent [self]"}, floodOf(t, h1, "vxlan0"))
	netnsxtest.RequireTCP(t, h1, h2, "192.168.60.2:8081")
	netnsxtest.RequireTransfer(t, h2, h1, "192.168.60.1:8081", bulk)
}

func TestIntegrationSetRemotes(t *testing.T) {
	ns := netnsxtest.New(t)
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 9})
	require.NoError(t, err)
	flood := func() []string { return floodOf(t, ns, "vxlan0") }
	entry := func(ip string) string { return "00:00:00:00:00:00 " + ip + " permanent [self]" }

	a, b, c := addr("10.0.0.2"), addr("10.0.0.3"), addr("10.0.0.4")
	require.NoError(t, dev.SetRemotes([]netip.Addr{a, b}))
	require.Equal(t, []string{entry("10.0.0.2"), entry("10.0.0.3")}, flood())
	require.NoError(t, dev.SetRemotes([]netip.Addr{b, c}), "one stale, one missing")
	require.Equal(t, []string{entry("10.0.0.3"), entry("10.0.0.4")}, flood())
	require.NoError(t, dev.SetRemotes([]netip.Addr{c, b, b}), "idempotent, duplicates folded")
	require.Equal(t, []string{entry("10.0.0.3"), entry("10.0.0.4")}, flood())
	remotes, err := dev.Remotes()
	require.NoError(t, err)
	slices.SortFunc(remotes, netip.Addr.Compare)
	require.Equal(t, []netip.Addr{b, c}, remotes)
	require.ErrorIs(t, dev.SetRemotes([]netip.Addr{a, addr("fd00::1")}), netnsx.ErrInvalid)
	require.Equal(t, []string{entry("10.0.0.3"), entry("10.0.0.4")}, flood(), "a refused set changes nothing")
	require.NoError(t, dev.RemoveRemote(b))
	require.NoError(t, dev.RemoveRemote(b), "removing an unlisted remote is not an error")
	require.NoError(t, dev.SetRemotes(nil), "the empty set removes every remote")
	require.Empty(t, flood())
}

func TestCreateRefusesBadConfig(t *testing.T) {
	defer failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return errors.New("stop")
	})()
	for _, tc := range []struct {
		cfg  vxlan.Config
		says string
	}{
		{vxlan.Config{}, "Name"},
		{vxlan.Config{Name: "vxlan/0"}, "Name"},
		{vxlan.Config{Name: "vxlan0", VNI: 1 << 24}, "VNI 16777216 out of range 0..16777215"},
		{vxlan.Config{Name: "vxlan0", Underlay: "eth 0"}, "Underlay"},
		{vxlan.Config{Name: "vxlan0", Local: addr("224.0.0.1")}, "Local"},
		{vxlan.Config{Name: "vxlan0", Local: addr("0.0.0.0")}, "Local"},
		{vxlan.Config{Name: "vxlan0", Group: addr("239.1.1.1")}, "needs an Underlay"},
		{vxlan.Config{Name: "vxlan0", Group: addr("10.0.0.1"), Underlay: "eth0"}, "not a multicast"},
		{vxlan.Config{Name: "vxlan0", Group: addr("ff05::1"), Local: addr("10.0.0.1"), Underlay: "eth0"}, "different families"},
		{vxlan.Config{Name: "vxlan0", MTU: 10}, "MTU"},
		{vxlan.Config{Name: "vxlan0", Addrs: []netip.Prefix{{}}}, "Addrs"},
		{vxlan.Config{Name: "vxlan0", HardwareAddr: net.HardwareAddr{1, 2, 3, 4, 5, 6}}, "HardwareAddr"},
	} {
		_, err := vxlan.Create(nil, tc.cfg)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%+v", tc.cfg)
		require.Contains(t, err.Error(), tc.says)
	}
	var d *vxlan.Device
	require.ErrorIs(t, d.AddRemote(addr("10.0.0.1")), netnsx.ErrInvalid)
	require.ErrorIs(t, d.SetRemotes(nil), netnsx.ErrInvalid)
	_, err := d.FDB()
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.ErrorIs(t, d.AddNeighbor(addr("10.0.0.1"), net.HardwareAddr{2, 0, 0, 0, 0, 1}), netnsx.ErrInvalid)
}
