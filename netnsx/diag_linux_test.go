package netnsx_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// article builds "手动创建一个网络拓扑" in fresh namespaces: br0 172.16.1.1/16 in host,
// container eth0s 172.16.1.2/16 and .3/16.
func article(t *testing.T) (host, c1, c2 *netnsx.NS) {
	host, c1, c2 = netnsxtest.New(t), netnsxtest.New(t), netnsxtest.New(t)
	br, err := bridge.Create(host, bridge.Config{Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.1/16")}})
	require.NoError(t, err)
	for i, c := range []*netnsx.NS{c1, c2} {
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: host, Name: fmt.Sprintf("veth%d", i+1), Master: br.Link},
			B: veth.End{NS: c, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, 1, byte(i + 2)}), 16)}},
		})
		require.NoError(t, err)
	}
	return host, c1, c2
}

func need(t *testing.T, tool, pkg string) {
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("this test reads its result with %s: apt-get install %s", tool, pkg)
	}
}

func TestIntegrationPing(t *testing.T) {
	_, c1, _ := article(t)
	// No ping binary may be involved: nothing is found on an empty PATH.
	path := os.Getenv("PATH")
	require.NoError(t, os.Setenv("PATH", ""))
	defer os.Setenv("PATH", path)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, dst := range []string{"172.16.1.3", "172.16.1.1", "172.16.1.2", "::1", "127.0.0.1"} {
		rtt, err := c1.Ping(ctx, netip.MustParseAddr(dst))
		require.NoError(t, err, dst)
		require.Greater(t, rtt, time.Duration(0), dst)
	}
	st, err := c1.PingStats(ctx, netip.MustParseAddr("172.16.1.3"), 3, 10*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, 3, st.Sent)
	require.Equal(t, 3, st.Received)
	require.True(t, st.Min > 0 && st.Min <= st.Avg && st.Avg <= st.Max, "%+v", st)

	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	_, err = c1.Ping(short, netip.MustParseAddr("172.16.1.99"))
	require.ErrorIs(t, err, context.DeadlineExceeded, "nobody answers for an absent address")
	st, err = c1.PingStats(ctx, netip.MustParseAddr("172.16.1.99"), 2, 0)
	require.NoError(t, err, "lost replies are counted, not errors")
	require.Equal(t, netnsx.PingStats{Sent: 2}, st)

	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	_, err = c1.Ping(gone, netip.MustParseAddr("172.16.1.3"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = c1.Ping(ctx, netip.Addr{})
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = c1.Ping(ctx, netip.MustParseAddr("224.0.0.1"))
	require.ErrorIs(t, err, netnsx.ErrInvalid)
}

// TestIntegrationCapture captures on both ends of container-1's veth — "tcpdump in
// host" and "tcpdump in container" — while container-1 pings container-2, and reads the
// files back with tcpdump.
func TestIntegrationCapture(t *testing.T) {
	need(t, "tcpdump", "tcpdump")
	host, c1, _ := article(t)
	dir := t.TempDir()
	files := map[string]*os.File{}
	var caps []*netnsx.Capturer
	for name, at := range map[string]struct {
		ns *netnsx.NS
		If string
	}{"host-veth1": {host, "veth1"}, "c1-eth0": {c1, "eth0"}} {
		f, err := os.Create(filepath.Join(dir, name+".pcap"))
		require.NoError(t, err)
		files[name] = f
		c, err := at.ns.StartCapture(at.If, f)
		require.NoError(t, err)
		caps = append(caps, c)
	}
	// The plain Capture, running until its context ends, on the container's lo.
	var loBuf bytes.Buffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c1.Capture(ctx, "lo", &loBuf) }()

	ping, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c1.PingStats(ping, netip.MustParseAddr("172.16.1.3"), 3, 20*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, 3, st.Received)
	for _, c := range caps {
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
	}
	stop()
	require.NoError(t, <-done)
	require.GreaterOrEqual(t, loBuf.Len(), 24, "a pcap header at least")

	for name, f := range files {
		require.NoError(t, f.Close())
		out, err := iptest.Tcpdump(f.Name(), "icmp")
		require.NoError(t, err, "%s: %s", name, out)
		require.GreaterOrEqual(t, strings.Count(string(out), "172.16.1.2 > 172.16.1.3: ICMP echo request"), 3, "%s:\n%s", name, out)
		require.GreaterOrEqual(t, strings.Count(string(out), "172.16.1.3 > 172.16.1.2: ICMP echo reply"), 3, "%s:\n%s", name, out)
	}
	_, err = c1.StartCapture("nosuch0", &loBuf)
	require.ErrorIs(t, err, netnsx.ErrNotFound)
}

func addrSet(ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}

// TestIntegrationInspect checks a snapshot of the bridge topology and of a VXLAN pair
// against ip and bridge.
func TestIntegrationInspect(t *testing.T) {
	host, c1, c2 := article(t)
	h1, h2 := netnsxtest.New(t), netnsxtest.New(t)
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: h1, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
		B: veth.End{NS: h2, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}},
	})
	require.NoError(t, err)
	for i, h := range []*netnsx.NS{h1, h2} {
		dev, err := vxlan.Create(h, vxlan.Config{Name: "vxlan0", VNI: 42, Underlay: "eth0"})
		require.NoError(t, err)
		require.NoError(t, dev.AddRemote(netip.AddrFrom4([4]byte{10, 0, 0, byte(2 - i)})))
	}
	nss := []*netnsx.NS{host, c1, c2, h1, h2}
	snap, err := netnsx.Inspect(nss...)
	require.NoError(t, err)
	require.Len(t, snap.Namespaces, len(nss))

	for i, ni := range snap.Namespaces {
		ns := nss[i]
		require.Equal(t, ns.Name(), ni.Name)
		view := iptest.Links(t, ns.Name())
		require.Len(t, ni.Links, len(view))
		for _, l := range ni.Links {
			v := view[l.Name]
			require.Equal(t, v.Ifindex, l.Index, l.Name)
			require.Equal(t, v.Linkinfo.InfoKind, l.Kind, l.Name)
			require.Equal(t, v.MTU, l.MTU, l.Name)
			require.Equal(t, v.Address, l.HardwareAddr.String(), l.Name)
			require.Equal(t, v.Master, l.Master, l.Name)
			require.Equal(t, slices.Contains(v.Flags, "UP"), l.Up, l.Name)
			var ipAddrs []string
			for _, a := range v.AddrInfo {
				ipAddrs = append(ipAddrs, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
			}
			slices.Sort(ipAddrs)
			require.Equal(t, ipAddrs, addrSet(l.Addrs), l.Name)
			if l.Kind == "veth" {
				// The peer we name has the ifindex ip reports as this link's peer.
				require.NotNil(t, l.Peer, l.Name)
				require.Equal(t, v.LinkIndex, iptest.Links(t, l.Peer.Namespace)[l.Peer.Name].Ifindex, "%s in %s", l.Name, ni.Name)
			}
			if l.Kind == "vxlan" {
				require.EqualValues(t, v.Linkinfo.InfoData["id"], l.VXLAN.VNI)
				require.EqualValues(t, v.Linkinfo.InfoData["port"], l.VXLAN.Port)
				require.Equal(t, v.Linkinfo.InfoData["link"], l.VXLAN.Underlay)
				var remotes []netip.Addr
				for _, e := range iptest.FDBs(t, ns.Name()) {
					if e.Dev == l.Name && e.MAC == "00:00:00:00:00:00" {
						remotes = append(remotes, netip.MustParseAddr(e.Dst))
					}
				}
				require.Equal(t, remotes, l.VXLAN.Remotes)
			}
		}
	}
	require.Equal(t, netnsx.PeerRef{Namespace: c1.Name(), Name: "eth0"}, *find(t, snap, host.Name(), "veth1").Peer)
	require.Equal(t, netnsx.PeerRef{Namespace: host.Name(), Name: "veth2"}, *find(t, snap, c2.Name(), "eth0").Peer)

	// Inspecting only the containers leaves the host ends unresolved, not wrong.
	part, err := netnsx.Inspect(c1)
	require.NoError(t, err)
	require.Equal(t, "", find(t, part, c1.Name(), "eth0").Peer.Namespace)

	// With no arguments: the host and every named namespace, ours among them.
	all, err := netnsx.Inspect()
	require.NoError(t, err)
	require.Equal(t, "host", all.Namespaces[0].Name)
	var names []string
	for _, ni := range all.Namespaces {
		names = append(names, ni.Name)
	}
	for _, ns := range nss {
		require.Contains(t, names, ns.Name())
	}

	// Graphviz accepts the drawing.
	need(t, "dot", "graphviz")
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(snap.DOT())
	svg, err := cmd.Output()
	require.NoError(t, err, snap.DOT())
	require.Contains(t, string(svg), "<svg")
	require.Contains(t, snap.Mermaid(), "VNI 42")
}

func find(t *testing.T, s *netnsx.Snapshot, ns, link string) *netnsx.LinkInfo {
	for i := range s.Namespaces {
		if s.Namespaces[i].Name == ns {
			for j := range s.Namespaces[i].Links {
				if l := &s.Namespaces[i].Links[j]; l.Name == link {
					return l
				}
			}
		}
	}
	t.Fatalf("%s not in %s", link, ns)
	return nil
}

func TestIntegrationRequireReachable(t *testing.T) {
	host, c1, _ := article(t)
	netnsxtest.Capture(t, host, "br0")
	netnsxtest.RequireReachable(t, c1, netip.MustParseAddr("172.16.1.1"), netip.MustParseAddr("172.16.1.3"))
}
