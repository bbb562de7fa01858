package netnsx_test

import (
	"encoding/json"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixed is two hosts of the overlay: a container on host1, VXLAN between the hosts, one
// remote VTEP that was not inspected.
func fixed() *netnsx.Snapshot {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	lo := netnsx.LinkInfo{Name: "lo", Index: 1, MTU: 65536, Up: true, Addrs: []netip.Prefix{p("127.0.0.1/8")}}
	return &netnsx.Snapshot{Namespaces: []netnsx.NamespaceInfo{
		{Name: "host1", Links: []netnsx.LinkInfo{lo,
			{Name: "eth0", Kind: "veth", Index: 2, MTU: 1500, Up: true, HardwareAddr: mac("02:00:00:00:01:01"),
				Addrs: []netip.Prefix{p("10.0.0.1/24"), p("fe80::1/64")}, Peer: &netnsx.PeerRef{Namespace: "host2", Name: "eth0"}},
			{Name: "br0", Kind: "bridge", Index: 3, MTU: 1450, Up: true},
			{Name: "vxlan0", Kind: "vxlan", Index: 4, MTU: 1450, Up: true, Master: "br0",
				VXLAN: &netnsx.VXLANInfo{VNI: 4096, Port: 4789, Underlay: "eth0", Remotes: []netip.Addr{a("10.0.0.2"), a("10.0.0.3")}}},
			{Name: "veth1", Kind: "veth", Index: 5, MTU: 1450, Up: true, Master: "br0", Peer: &netnsx.PeerRef{Namespace: `c"1`, Name: "eth0"}},
		}, Routes: []netnsx.Route{{Dst: p("10.0.0.0/24"), Dev: "eth0", Src: a("10.0.0.1")}, {Dst: p("fd00::/64"), Dev: "eth0", Metric: 1024}}},
		{Name: "host2", Links: []netnsx.LinkInfo{lo,
			{Name: "eth0", Kind: "veth", Index: 2, MTU: 1500, Up: true, Addrs: []netip.Prefix{p("10.0.0.2/24")}, Peer: &netnsx.PeerRef{Namespace: "host1", Name: "eth0"}},
			{Name: "vxlan0", Kind: "vxlan", Index: 3, MTU: 1450, VXLAN: &netnsx.VXLANInfo{VNI: 4096, Port: 4789, Underlay: "eth0", Remotes: []netip.Addr{a("10.0.0.1")}}},
		}},
		{Name: `c"1`, Links: []netnsx.LinkInfo{lo,
			{Name: "eth0", Kind: "veth", Index: 2, MTU: 1450, Up: true, Addrs: []netip.Prefix{p("10.200.1.1/16")}, Peer: &netnsx.PeerRef{Namespace: "host1", Name: "veth1"}},
		}},
	}}
}

func golden(t *testing.T, name, got string) {
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run Golden -update ./netnsx to create it")
	require.Equal(t, string(want), got)
}

func TestGoldenDOT(t *testing.T)     { golden(t, "snapshot.dot", fixed().DOT()) }
func TestGoldenMermaid(t *testing.T) { golden(t, "snapshot.mmd", fixed().Mermaid()) }

func TestGoldenJSON(t *testing.T) {
	s := fixed()
	b, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	golden(t, "snapshot.json", string(b)+"\n")
	var back netnsx.Snapshot
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s, &back, "JSON round-trips")
}
