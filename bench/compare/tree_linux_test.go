package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationTree builds the star past one bridge, small: 3 leaves a bridge, so 7
// leaves hang from a spine and 3 leaf bridges, with nstopo and with the floor. It checks
// the ports of each bridge with ip, that no descriptor is kept per leaf, that a leaf on
// the first bridge reaches one on the last, and that teardown leaves nothing.
func TestIntegrationTree(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	defer func(n int) { PortsPerBridge = n }(PortsPerBridge)
	PortsPerBridge = 3
	const n = 7
	for _, method := range []string{"nstopo", "floor", "lab"} {
		t.Run(method, func(t *testing.T) {
			prefix := netnsxtest.Name(0) + "-"
			t.Cleanup(func() { cleanup(prefix) })
			fds := func() int {
				es, err := os.ReadDir("/proc/self/fd")
				require.NoError(t, err)
				return len(es)
			}
			before := fds()
			var teardown func() error
			switch method {
			case "nstopo":
				s, err := BuildStar(prefix, n, 2, true)
				require.NoError(t, err)
				teardown = s.Teardown
			case "floor":
				s, err := BuildFloor(prefix, n, true)
				require.NoError(t, err)
				teardown = s.Teardown
			case "lab":
				// A Lab keeps a handle on every node until Close: no descriptor check.
				l, err := lab.Build(context.Background(), StarSpec(prefix, n, true), &lab.Options{StateDir: t.TempDir()})
				require.NoError(t, err)
				teardown = l.Close
			}
			if method != "lab" {
				require.LessOrEqual(t, fds()-before, 4, "descriptors kept: the lab's, never one per leaf")
			}
			out, err := exec.Command("ip", "-n", prefix+"lab", "-j", "link", "show").Output()
			require.NoError(t, err)
			var links []struct{ Ifname, Master string }
			require.NoError(t, json.Unmarshal(out, &links))
			ports := map[string][]string{}
			for _, l := range links {
				if l.Master != "" {
					ports[l.Master] = append(ports[l.Master], l.Ifname)
				}
			}
			require.ElementsMatch(t, []string{"up1", "up2", "up3"}, ports["br0"])
			require.ElementsMatch(t, []string{"down1", "v1", "v2", "v3"}, ports["br1"])
			require.ElementsMatch(t, []string{"down3", "v7"}, ports["br3"])

			out, err = exec.Command("ip", "netns", "exec", prefix+"3", "sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6").Output()
			require.NoError(t, err)
			require.Equal(t, "1", strings.TrimSpace(string(out)))

			first, err := netnsx.Open(prefix + "1")
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = first.Ping(ctx, Addr(n).Addr())
			cancel()
			require.NoError(t, first.Close())
			require.NoError(t, err, "leaf 1 on br1 reaches leaf %d on br3 through the spine", n)

			require.NoError(t, teardown())
			names, err := netnsx.List()
			require.NoError(t, err)
			for _, name := range names {
				require.False(t, strings.HasPrefix(name, prefix), "left %s", name)
			}
		})
	}
}

func TestBridges(t *testing.T) {
	for _, tc := range []struct{ n, bridges, last int }{{1, 1, 0}, {1000, 1, 0}, {1001, 3, 2}, {10000, 11, 10}} {
		require.Equal(t, tc.bridges, bridges(tc.n), fmt.Sprint(tc.n))
		require.Equal(t, tc.last, leafBridge(tc.n, tc.n), fmt.Sprint(tc.n))
	}
}
