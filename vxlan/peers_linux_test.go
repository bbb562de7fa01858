package vxlan_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/vxlan"
)

// peerState is what `bridge -j fdb show dev vxlan0` and `ip -j neigh show dev vxlan0`
// list, one sorted line per entry.
type peerState struct {
	Self   []string // "mac dst state": the device's own entries
	Master []string // "mac state": the bridge's entries on the device
	Neigh  []string // "ip lladdr STATE"
}

func stateOf(t *testing.T, ns *netnsx.NS) peerState {
	t.Helper()
	var fdb []iptest.FDB
	iptest.Run(t, &fdb, "ip", "netns", "exec", ns.Name(), iptest.Tool("bridge"), "-j", "fdb", "show", "dev", "vxlan0")
	var s peerState
	for _, e := range fdb {
		if e.Master != "" {
			s.Master = append(s.Master, fmt.Sprintf("%s %s", e.MAC, e.State))
		} else {
			s.Self = append(s.Self, fmt.Sprintf("%s %s %s", e.MAC, e.Dst, e.State))
		}
	}
	var neigh []struct {
		Dst    string   `json:"dst"`
		Lladdr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	iptest.Run(t, &neigh, "ip", "-n", ns.Name(), "-j", "neigh", "show", "dev", "vxlan0")
	for _, n := range neigh {
		s.Neigh = append(s.Neigh, fmt.Sprintf("%s %s %s", n.Dst, n.Lladdr, strings.Join(n.State, ",")))
	}
	slices.Sort(s.Self)
	slices.Sort(s.Master)
	slices.Sort(s.Neigh)
	return s
}

// static keeps the bridge's static entries: the bridge also lists the device's own MAC
// as permanent, and that is not ours.
func static(master []string) []string {
	var out []string
	for _, m := range master {
		if strings.HasSuffix(m, " static") {
			out = append(out, m)
		}
	}
	return out
}

func sh(t *testing.T, ns *netnsx.NS, args ...string) {
	t.Helper()
	iptest.Run(t, nil, "ip", append([]string{"netns", "exec", ns.Name()}, args...)...)
}

// countSteps counts the changes SetPeers asks of the kernel until the returned
// function is called.
func countSteps() (n *int, restore func()) {
	n = new(int)
	return n, failpoint.Set(func(op failpoint.Op) error {
		if op.Change() {
			*n++
		}
		return nil
	})
}

func TestIntegrationSetPeers(t *testing.T) {
	ns := netnsxtest.New(t, "peers")
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 10, Local: addr("10.0.0.1"), DisableLearning: true, Proxy: true, Master: br.Link})
	require.NoError(t, err)

	// What someone else put there: a learned entry and a reachable neighbour, to be
	// left alone, and a permanent remote, to be removed.
	bridgeCmd := iptest.Tool("bridge")
	sh(t, ns, bridgeCmd, "fdb", "add", "02:00:00:00:00:99", "dev", "vxlan0", "dst", "10.0.0.99", "self", "dynamic")
	sh(t, ns, "ip", "neigh", "add", "192.168.1.99", "lladdr", "02:00:00:00:00:99", "dev", "vxlan0", "nud", "reachable")
	sh(t, ns, bridgeCmd, "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan0", "dst", "10.0.0.98", "self", "permanent")
	learned := "02:00:00:00:00:99 10.0.0.99 "
	reachable := "192.168.1.99 02:00:00:00:00:99 REACHABLE"

	m1, m2, m3 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.HardwareAddr{2, 0, 0, 0, 0, 3}
	peers := []vxlan.Peer{
		{VTEP: addr("10.0.0.2"), MAC: m1, IP: addr("192.168.1.2")},
		{VTEP: addr("10.0.0.2"), MAC: m2, IP: addr("192.168.1.3")},
		{VTEP: addr("10.0.0.2"), MAC: m2, IP: addr("fd10::3")}, // one endpoint, two families
		{VTEP: addr("10.0.0.3")},                               // a host with no endpoint yet
		{VTEP: addr("10.0.0.4"), MAC: m3},                      // an endpoint whose IP is not known
	}
	ch, err := dev.SetPeers(peers)
	require.NoError(t, err)
	// 3 remotes, 3 MACs on the device and 3 on the bridge, 3 neighbours; 1 stale remote.
	require.Equal(t, vxlan.Changes{Added: 12, Removed: 1}, ch)
	want := peerState{
		Self: []string{
			"00:00:00:00:00:00 10.0.0.2 permanent", "00:00:00:00:00:00 10.0.0.3 permanent", "00:00:00:00:00:00 10.0.0.4 permanent",
			"02:00:00:00:00:01 10.0.0.2 permanent", "02:00:00:00:00:02 10.0.0.2 permanent", "02:00:00:00:00:03 10.0.0.4 permanent",
			learned,
		},
		Neigh: []string{"192.168.1.2 02:00:00:00:00:01 PERMANENT", "192.168.1.3 02:00:00:00:00:02 PERMANENT", reachable, "fd10::3 02:00:00:00:00:02 PERMANENT"},
	}
	slices.Sort(want.Self)
	slices.Sort(want.Neigh)
	got := stateOf(t, ns)
	require.Equal(t, want.Self, got.Self)
	require.Equal(t, want.Neigh, got.Neigh)
	require.Equal(t, []string{"02:00:00:00:00:01 static", "02:00:00:00:00:02 static", "02:00:00:00:00:03 static"}, static(got.Master))

	// Again, in another order and with a duplicate: nothing to do, no request sent.
	again := append(slices.Clone(peers), peers[0])
	slices.Reverse(again)
	steps, restore := countSteps()
	ch, err = dev.SetPeers(again)
	restore()
	require.NoError(t, err)
	require.Zero(t, ch)
	require.Zero(t, *steps, "requests sent by an idempotent call")
	require.Equal(t, got, stateOf(t, ns))

	// One endpoint moves to a new host: one remote added, one entry replaced.
	peers[0].VTEP = addr("10.0.0.5")
	steps, restore = countSteps()
	ch, err = dev.SetPeers(peers)
	restore()
	require.NoError(t, err)
	require.Equal(t, vxlan.Changes{Added: 1, Replaced: 1}, ch)
	require.Equal(t, 2, *steps)
	got = stateOf(t, ns)
	require.Contains(t, got.Self, "02:00:00:00:00:01 10.0.0.5 permanent")
	require.Contains(t, got.Self, "00:00:00:00:00:00 10.0.0.5 permanent")
	require.NotContains(t, got.Self, "02:00:00:00:00:01 10.0.0.2 permanent")
	require.Contains(t, got.Self, "00:00:00:00:00:00 10.0.0.2 permanent", "m2 is still behind 10.0.0.2")

	// An IP moves to another MAC: the neighbour entry is replaced in place.
	peers[1].IP, peers[0].IP = peers[0].IP, netip.Addr{}
	ch, err = dev.SetPeers(peers)
	require.NoError(t, err)
	require.Equal(t, vxlan.Changes{Replaced: 1, Removed: 1}, ch, "192.168.1.2 now at m2, 192.168.1.3 gone")
	require.Equal(t, []string{"192.168.1.2 02:00:00:00:00:02 PERMANENT", reachable, "fd10::3 02:00:00:00:00:02 PERMANENT"}, stateOf(t, ns).Neigh)

	// Two hosts leave: their remotes, m3 on the device and on the bridge go.
	ch, err = dev.SetPeers(peers[:3])
	require.NoError(t, err)
	require.Equal(t, vxlan.Changes{Removed: 4}, ch)
	got = stateOf(t, ns)
	want.Self = []string{
		"00:00:00:00:00:00 10.0.0.2 permanent", "00:00:00:00:00:00 10.0.0.5 permanent",
		"02:00:00:00:00:01 10.0.0.5 permanent", "02:00:00:00:00:02 10.0.0.2 permanent", learned,
	}
	slices.Sort(want.Self)
	require.Equal(t, want.Self, got.Self)
	require.Equal(t, []string{"02:00:00:00:00:01 static", "02:00:00:00:00:02 static"}, static(got.Master))

	// Everyone leaves: only what we did not make remains.
	_, err = dev.SetPeers(nil)
	require.NoError(t, err)
	got = stateOf(t, ns)
	require.Equal(t, []string{learned}, got.Self)
	require.Empty(t, static(got.Master))
	require.Equal(t, []string{reachable}, got.Neigh)
}

// TestIntegrationSetPeersRefuses: every refusal comes before any request and leaves
// the device as it was.
func TestIntegrationSetPeersRefuses(t *testing.T) {
	ns := netnsxtest.New(t, "peers-refuse")
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 11, Local: addr("10.0.0.1")})
	require.NoError(t, err)
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	good := vxlan.Peer{VTEP: addr("10.0.0.2"), MAC: mac, IP: addr("192.168.1.2")}
	_, err = dev.SetPeers([]vxlan.Peer{good})
	require.NoError(t, err)
	before := stateOf(t, ns)

	restore := failpoint.Set(func(op failpoint.Op) error {
		if op.Change() {
			t.Errorf("reached kernel call %s", op)
			return errors.New("stop")
		}
		return nil
	})
	defer restore()
	for _, tc := range []struct {
		says string
		bad  vxlan.Peer
	}{
		{"invalid address", vxlan.Peer{}},
		{"multicast", vxlan.Peer{VTEP: addr("239.1.1.1")}},
		{"unspecified", vxlan.Peer{VTEP: addr("0.0.0.0")}},
		{"IPv4-mapped", vxlan.Peer{VTEP: addr("::ffff:10.0.0.3")}},
		{"not IPv4", vxlan.Peer{VTEP: addr("fd00::3")}},
		{"without a MAC", vxlan.Peer{VTEP: addr("10.0.0.3"), IP: addr("192.168.1.3")}},
		{"6-byte", vxlan.Peer{VTEP: addr("10.0.0.3"), MAC: net.HardwareAddr{2, 0, 0}}},
		{"all-zero", vxlan.Peer{VTEP: addr("10.0.0.3"), MAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}}},
		{"multicast", vxlan.Peer{VTEP: addr("10.0.0.3"), MAC: net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}}},
		{"behind both 10.0.0.2 and 10.0.0.3", vxlan.Peer{VTEP: addr("10.0.0.3"), MAC: mac}},
		{"has both MAC", vxlan.Peer{VTEP: addr("10.0.0.2"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, IP: good.IP}},
		{"IP 224.0.0.1 is a multicast", vxlan.Peer{VTEP: addr("10.0.0.3"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, IP: addr("224.0.0.1")}},
	} {
		// The bad peer comes last, after a change that would otherwise be made.
		ch, err := dev.SetPeers([]vxlan.Peer{{VTEP: addr("10.0.0.7")}, good, tc.bad})
		require.ErrorIs(t, err, netnsx.ErrInvalid, tc.says)
		require.Contains(t, err.Error(), tc.says)
		require.Contains(t, err.Error(), "vxlan: set peers of vxlan0: peer 2: ")
		require.Zero(t, ch)
	}
	restore()
	require.Equal(t, before, stateOf(t, ns), "a refused call changed the device")

	var nilDev *vxlan.Device
	_, err = nilDev.SetPeers(nil)
	require.ErrorIs(t, err, netnsx.ErrInvalid)
}

// TestIntegrationSetPeersInterrupted: a call cut short by the kernel leaves part of the
// change, and the next call completes it.
func TestIntegrationSetPeersInterrupted(t *testing.T) {
	ns := netnsxtest.New(t, "peers-cut")
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 12, Local: addr("10.0.0.1")})
	require.NoError(t, err)
	var peers []vxlan.Peer
	for i := 2; i < 6; i++ {
		peers = append(peers, vxlan.Peer{VTEP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}),
			MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, IP: netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})})
	}
	injected := errors.New("injected")
	n := 0
	restore := failpoint.Set(func(op failpoint.Op) error {
		if !op.Change() {
			return nil
		}
		if n++; n == 6 {
			return injected
		}
		return nil
	})
	ch, err := dev.SetPeers(peers)
	restore()
	require.ErrorIs(t, err, injected)
	require.Equal(t, 5, ch.Total(), "requests sent before the failure")
	require.Len(t, stateOf(t, ns).Self, 5)

	ch, err = dev.SetPeers(peers)
	require.NoError(t, err)
	require.Equal(t, vxlan.Changes{Added: 4 + 4 + 4 - 5}, ch)
	got := stateOf(t, ns)
	require.Len(t, got.Self, 8)
	require.Len(t, got.Neigh, 4)
}

// BenchmarkSetPeers reconciles 1000 peers (1000 VTEPs, MACs and IPs) of which one
// moves to another VTEP on every call: a watch event. requests/op counts what was
// sent besides the dumps.
func BenchmarkSetPeers(b *testing.B) {
	ns := netnsxtest.New(b, "bench-peers")
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 13, Local: addr("10.0.0.1"), DisableLearning: true})
	if err != nil {
		b.Fatal(err)
	}
	peers := make([]vxlan.Peer, 1000)
	for i := range peers {
		peers[i] = vxlan.Peer{VTEP: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
			MAC: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}, IP: netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)})}
	}
	if _, err := dev.SetPeers(peers); err != nil {
		b.Fatal(err)
	}
	moves := [2]netip.Addr{addr("10.2.0.1"), peers[0].VTEP}
	requests := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		peers[0].VTEP = moves[i%2]
		ch, err := dev.SetPeers(peers)
		if err != nil {
			b.Fatal(err)
		}
		requests += ch.Total()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
}

// TestIntegrationSetPeersKeepsGroup: a device with a multicast Group floods to it
// through an all-zero entry of its own; peers come and go beside it.
func TestIntegrationSetPeersKeepsGroup(t *testing.T) {
	ns := netnsxtest.New(t, "peers-group")
	_, err := bridge.Create(ns, bridge.Config{Name: "eth0", Addrs: []netip.Prefix{pfx("10.0.0.1/24")}})
	require.NoError(t, err)
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vxlan0", VNI: 14, Underlay: "eth0", Group: addr("239.1.1.1")})
	require.NoError(t, err)
	group := "00:00:00:00:00:00 239.1.1.1 permanent"
	require.Equal(t, []string{group}, stateOf(t, ns).Self)
	_, err = dev.SetPeers([]vxlan.Peer{{VTEP: addr("10.0.0.2")}})
	require.NoError(t, err)
	require.Equal(t, []string{"00:00:00:00:00:00 10.0.0.2 permanent", group}, stateOf(t, ns).Self)
	ch, err := dev.SetPeers(nil)
	require.NoError(t, err)
	require.Equal(t, vxlan.Changes{Removed: 1}, ch)
	require.Equal(t, []string{group}, stateOf(t, ns).Self)
}
