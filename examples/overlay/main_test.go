package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationOverlay runs the default 3 hosts × 2 containers: all 30 ordered pairs
// over TCP on 8081, and a 1 MiB transfer across hosts.
func TestIntegrationOverlay(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	var out strings.Builder
	err := run(&out, options{prefix: prefix, hosts: 3, containers: 2, bulk: 1 << 20, check: true, draw: "dot"})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "checked 30 ordered pairs")
	require.Contains(t, out.String(), `style=dotted, color=blue, tooltip="VNI 4096"`, "-draw dot prints the picture")
	require.NotContains(t, out.String(), "FAIL")
	require.Contains(t, out.String(), fmt.Sprintf("%8s %6s %6s", "host3", "5", "5"))
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
}

// TestIntegrationOverlayKept checks the kept topology with ip and bridge: the VXLAN
// device on each host, its full mesh of remotes, and the MTUs.
func TestIntegrationOverlayKept(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() { _, _ = cleanup(prefix) })
	var out strings.Builder
	require.NoError(t, run(&out, options{prefix: prefix, hosts: 3, containers: 2, keep: true}))
	for i := 1; i <= 3; i++ {
		host := fmt.Sprintf("%shost%d", prefix, i)
		links := iptest.Links(t, host)
		vx := links["vxlan0"]
		require.EqualValues(t, vni, vx.Linkinfo.InfoData["id"])
		require.EqualValues(t, 4789, vx.Linkinfo.InfoData["port"])
		require.Equal(t, fmt.Sprintf("10.0.0.%d", i), vx.Linkinfo.InfoData["local"])
		require.Equal(t, "br0", vx.Master)
		require.Equal(t, overlayMTU, vx.MTU)
		require.Equal(t, overlayMTU, links["br0"].MTU)
		var remotes []string
		for _, e := range iptest.FDBs(t, host) {
			if e.Dev == "vxlan0" && e.MAC == "00:00:00:00:00:00" {
				remotes = append(remotes, e.Dst)
			}
		}
		require.Len(t, remotes, 2, "a full mesh: every other host")
		require.NotContains(t, remotes, fmt.Sprintf("10.0.0.%d", i))
		c := iptest.Links(t, fmt.Sprintf("%sh%dc1", prefix, i))["eth0"]
		require.Equal(t, overlayMTU, c.MTU)
		require.Equal(t, fmt.Sprintf("02:42:0a:c8:%02x:01", i), c.Address)
	}
	n, err := cleanup(prefix)
	require.NoError(t, err)
	require.Equal(t, 1+3+6, n)
}

// BenchmarkOverlay builds and tears down the overlay at -hosts 10 -containers 10,
// without the pair checks; teardown is reported as teardown-ns/op.
func BenchmarkOverlay(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	b.ReportAllocs()
	var teardown time.Duration
	for i := 0; i < b.N; i++ {
		t := &topology{}
		err := t.build(options{prefix: netnsxtest.Name(0) + "-", hosts: 10, containers: 10})
		b.StopTimer()
		start := time.Now()
		if terr := t.teardown(); err == nil {
			err = terr
		}
		teardown += time.Since(start)
		b.StartTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(teardown.Nanoseconds())/float64(b.N), "teardown-ns/op")
}
