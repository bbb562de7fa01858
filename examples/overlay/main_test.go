package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
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
	var out, pic strings.Builder
	err := run(context.Background(), &out, &pic, options{prefix: prefix, hosts: 3, containers: 2, bulk: 1 << 20, check: true, draw: "dot"})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "checked 30 ordered pairs and sent 1048576 bytes from the first container to the last")
	require.Contains(t, pic.String(), `style=dotted, color=blue, tooltip="VNI 4096"`, "-draw dot prints the picture")
	require.NotContains(t, out.String(), "style=dotted", "the picture goes apart from the report")
	require.NotContains(t, out.String(), "FAIL")
	require.Contains(t, out.String(), "containers reached: 6 of 6")
	require.Contains(t, out.String(), fmt.Sprintf("%8s %6s %6s", "host3", "5", "5"))
	requireGone(t, prefix)
}

// TestIntegrationOverlaySampled runs 10 hosts × 10 containers, past the 32 containers
// whose pairs are all checked: a sample of 245 pairs reaches every container.
func TestIntegrationOverlaySampled(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	var out strings.Builder
	err := run(context.Background(), &out, nil, options{prefix: prefix, hosts: 10, containers: 10, bulk: 1 << 20, check: true})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "checked 245 ordered pairs (a sample of the 9900:")
	require.Contains(t, out.String(), "containers reached: 100 of 100")
	require.Contains(t, out.String(), "reachability (containers that reached each one, checked):")
	require.NotContains(t, out.String(), "pairs (row reaches column)", "no full matrix for a sample")
	requireGone(t, prefix)
}

// TestSample: all pairs up to 32 containers; past that every container is reached
// from another host, every two hosts meet, and no pair is checked twice.
func TestSample(t *testing.T) {
	for _, tc := range []struct{ hosts, containers, want int }{
		{3, 2, 30}, {1, 32, 32 * 31}, {4, 8, 32 * 31},
		{1, 33, 33 + randomPairs}, {10, 10, 100 + 45 + randomPairs}, {100, 100, 10000 + 4950 + randomPairs},
	} {
		n := tc.hosts * tc.containers
		pairs := sample(tc.hosts, tc.containers)
		require.Len(t, pairs, tc.want, "%d × %d", tc.hosts, tc.containers)
		seen := make(map[pair]bool)
		fromOther := make([]bool, n)
		met := make(map[[2]int]bool)
		for _, p := range pairs {
			require.False(t, seen[p], "%v twice", p)
			seen[p] = true
			require.NotEqual(t, p.from, p.to)
			a, b := p.from/tc.containers, p.to/tc.containers
			if a != b || tc.hosts == 1 {
				fromOther[p.to] = true
			}
			if a != b {
				met[[2]int{min(a, b), max(a, b)}] = true
			}
		}
		require.NotContains(t, fromOther, false, "%d × %d: a container not reached from another host", tc.hosts, tc.containers)
		require.Len(t, met, tc.hosts*(tc.hosts-1)/2, "%d × %d: every two hosts", tc.hosts, tc.containers)
	}
}

// TestIntegrationOverlayKept checks the kept topology with ip and bridge: the VXLAN
// device on each host, its full mesh of remotes, the static FDB and permanent
// neighbour entries for every remote container on it, and the MTUs; after all 30
// checks the containers hold no ARP entry at all: none written, the learned ones
// removed.
func TestIntegrationOverlayKept(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() { _, _ = cleanup(prefix) })
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out, nil, options{prefix: prefix, hosts: 3, containers: 2, keep: true, check: true}), out.String())
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
		require.Equal(t, false, vx.Linkinfo.InfoData["learning"])
		require.Equal(t, true, vx.Linkinfo.InfoData["proxy"])
		var remotes []string
		fdb := make(map[string]string) // remote container MAC → VTEP
		for _, e := range iptest.FDBs(t, host) {
			switch {
			case e.Dev != "vxlan0" || e.Master != "":
			case e.MAC == "00:00:00:00:00:00":
				remotes = append(remotes, e.Dst)
			case e.State == "permanent":
				fdb[e.MAC] = e.Dst
			}
		}
		require.Len(t, remotes, 2, "a full mesh: every other host")
		require.NotContains(t, remotes, fmt.Sprintf("10.0.0.%d", i))
		var neigh []struct {
			Dst    string   `json:"dst"`
			Lladdr string   `json:"lladdr"`
			State  []string `json:"state"`
		}
		iptest.Run(t, &neigh, "ip", "-n", host, "-j", "neigh", "show", "dev", "vxlan0", "nud", "permanent")
		require.Len(t, neigh, 4, "every remote container")
		require.Len(t, fdb, 4, "every remote container")
		for _, n := range neigh {
			var h, c int
			_, err := fmt.Sscanf(n.Dst, "10.200.%d.%d", &h, &c)
			require.NoError(t, err)
			require.NotEqual(t, i, h, "only remote containers")
			require.Equal(t, fmt.Sprintf("02:42:0a:c8:%02x:%02x", h, c), n.Lladdr)
			require.Equal(t, fmt.Sprintf("10.0.0.%d", h), fdb[n.Lladdr], "%s behind its host", n.Lladdr)
		}
		var inside []any
		iptest.Run(t, &inside, "ip", "-n", fmt.Sprintf("%sh%dc1", prefix, i), "-j", "neigh", "show")
		require.Empty(t, inside, "no ARP entries written into a container, none learned left")
		c := iptest.Links(t, fmt.Sprintf("%sh%dc1", prefix, i))["eth0"]
		require.Equal(t, overlayMTU, c.MTU)
		require.Equal(t, fmt.Sprintf("02:42:0a:c8:%02x:01", i), c.Address)
	}
	n, err := cleanup(prefix)
	require.NoError(t, err)
	require.Equal(t, 1+3+6, n)
}

// TestFlagsRefused: bad flags exit 2 before anything is built.
func TestFlagsRefused(t *testing.T) {
	prefix := netnsxtest.Name(0) + "-"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-draw", "svg"}, `-draw must be "dot" or "mermaid", not "svg"`},
		{[]string{"-hosts", "0"}, "-hosts and -containers must be 1..250"},
		{[]string{"-clean", "-prefix", ""}, "-clean needs a -prefix"},
		{[]string{"-keep", "-clean"}, "-keep and -clean exclude each other"},
	} {
		args := append([]string{"-prefix", prefix}, tc.args...)
		stdout, stderr, code := iptest.Output(t, iptest.Example(t, args...))
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want)
		require.Empty(t, stdout)
	}
}

// TestIntegrationPicture runs the README's picture command,
// `go run ./examples/overlay -draw dot | dot -Tsvg > x.svg`, and reads the SVG back.
func TestIntegrationPicture(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	if _, err := exec.LookPath("dot"); err != nil {
		t.Skip("no dot (apt-get install graphviz):", err)
	}
	prefix := netnsxtest.Name(0) + "-"
	ex := iptest.Example(t, "-prefix", prefix, "-draw", "dot")
	var report strings.Builder
	ex.Stderr = &report
	dot := exec.Command("dot", "-Tsvg")
	var svg, dotErr strings.Builder
	dot.Stdout, dot.Stderr = &svg, &dotErr
	pipe, err := ex.StdoutPipe()
	require.NoError(t, err)
	dot.Stdin = pipe
	require.NoError(t, ex.Start())
	require.NoError(t, dot.Run(), "dot: %s", dotErr.String())
	require.NoError(t, ex.Wait(), report.String())
	require.Contains(t, report.String(), "checked 30 ordered pairs", "the report goes to stderr")
	requireGone(t, prefix)

	var root struct{ XMLName xml.Name }
	require.NoError(t, xml.NewDecoder(strings.NewReader(svg.String())).Decode(&root), svg.String())
	require.Equal(t, "svg", root.XMLName.Local)
	require.Contains(t, svg.String(), "VNI 4096")
}

// TestIntegrationInterrupt sends one SIGINT while the pairs are checked: the program
// stops, tears everything down and exits 130.
func TestIntegrationInterrupt(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() { _, _ = cleanup(prefix) })
	ex := iptest.Example(t, "-prefix", prefix, "-hosts", "10", "-containers", "10")
	var stderr strings.Builder
	ex.Stderr = &stderr
	stdout, err := ex.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, ex.Start())
	var report strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		report.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "built ") {
			require.NoError(t, ex.Process.Signal(os.Interrupt))
		}
	}
	start := time.Now()
	_ = ex.Wait()
	require.Equal(t, 130, ex.ProcessState.ExitCode(), "%s%s", report.String(), stderr.String())
	require.Less(t, time.Since(start), 10*time.Second)
	require.NotContains(t, report.String(), "checked", "the check stopped")
	requireGone(t, prefix)
}

// requireGone checks that no namespace with the prefix is left in the kernel.
func requireGone(t *testing.T, prefix string) {
	t.Helper()
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
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
