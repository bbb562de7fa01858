package main

import (
	"errors"
	"fmt"
	"html"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/lab"
)

// Mistakes on the command line and in the file exit 2 and are named, before anything
// is touched; -h and version are not mistakes. None of this needs privilege.
func TestUsageErrors(t *testing.T) {
	state := t.TempDir()
	good := writeFile(t, "good.yaml", "name: good\ntopology:\n  nodes:\n    n1: {}\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: nstopo <command>"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"up"}, 2, "want one argument, got 0"},
		{[]string{"up", good, "extra"}, 2, "want one argument, got 2"},
		{[]string{"up", "-nosuch", good}, 2, "flag provided but not defined: -nosuch"},
		{[]string{"up", "/nonexistent/lab.yaml"}, 2, "/nonexistent/lab.yaml"},
		{[]string{"down"}, 2, "want one argument"},
		{[]string{"ping", good, good}, 2, "want one argument, got 2"},
		{[]string{"graph", "-format", "svg", good}, 2, `-format must be "dot" or "mermaid", not "svg"`},
		{[]string{"inspect", "-format", "xml"}, 2, `-format must be "text", "dot", "mermaid" or "json", not "xml"`},
		{[]string{"inspect", "-prefix", "x-", "somens"}, 2, "-prefix goes with a lab file"},
		{[]string{"exec"}, 2, "want NODE and a command"},
		{[]string{"exec", "n1"}, 2, "want a command to run in n1"},
		{[]string{"exec", "n1", "--"}, 2, "want a command to run in n1"},
		{[]string{"exec", "-prefix", "x-", "n1", "true"}, 2, "-prefix goes with -f FILE"},
		{[]string{"exec", "-f", good, "n9", "--", "true"}, 2, `has no node "n9" (it has n1)`},
		{[]string{"validate"}, 2, "want one argument"},
		{[]string{"version", "extra"}, 2, "want no argument"},
		{[]string{"-h"}, 0, "exit status"},
		{[]string{"help"}, 0, "130  interrupted"},
		{[]string{"up", "-h"}, 0, "-progress"},
		{[]string{"exec", "-h"}, 0, "-f FILE"},
		{[]string{"version"}, 0, "nstopo "},
		{[]string{"validate", good}, 0, "lab good: 1 node, 0 links, 0 overlays: ok"},
		{[]string{"up", "-prefix", "x-", good, "-progress", "extra"}, 2, "want one argument, got 2"},
	} {
		r := output(t, nstopo(state, tc.args...), "")
		require.Equal(t, tc.code, r.code, "%v: %s", tc.args, r)
		require.Contains(t, r.stdout+r.stderr, tc.want, "%v", tc.args)
	}
}

// A description with ten mistakes gets ten messages, each with its path, and exit 2;
// graph refuses it too rather than draw something wrong.
func TestValidateReportsEveryProblem(t *testing.T) {
	bad := writeFile(t, "bad.yaml", `name: "Bad Name!"
topology:
  nodes:
    c1:
      sysctls: {kernel.panic: "1"}
      bridges:
        br0: {mtu: 70000}
    c2:
      routes:
        - dst: 10.0.0.0/8
  links:
    - endpoints: ["c1:eth0", "c9:eth0"]
    - endpoints: ["c1:eth0123456789abcdef", "c2:eth0"]
    - endpoints: [{node: c1, interface: eth1, bridge: br9}, "c2:eth1"]
    - endpoints: ["c1:eth2", "c2:eth2"]
      mtu: -1
  overlays:
    - name: vxlan0
      vni: 16777216
      members:
        - {node: c1, underlay: eth0, local: 10.0.0.1}
`)
	r := output(t, nstopo(t.TempDir(), "validate", bad), "")
	require.Equal(t, 2, r.code, "%s", r)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(l, bad+": ") && !strings.HasSuffix(l, "problems") {
			lines = append(lines, l)
		}
	}
	t.Logf("%s", r.stderr)
	require.Len(t, lines, 10, "%s", r.stderr)
	require.Contains(t, r.stderr, bad+": 10 problems")
	require.Contains(t, r.stderr, `links[0].endpoints[1]: node "c9" not defined`)

	r = output(t, nstopo(t.TempDir(), "graph", bad), "")
	require.Equal(t, 2, r.code, "%s", r)
	require.Empty(t, r.stdout)
	require.Contains(t, r.stderr, `node "c9" not defined`)
}

// graph draws the article's lab from the file alone, as any user: Graphviz's dot reads
// the DOT, and the Mermaid is a flowchart.
func TestGraph(t *testing.T) {
	r := output(t, nstopo(t.TempDir(), "graph", articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("apt-get install graphviz: this test renders the picture (.ci/run installs it)")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(r.stdout)
	svg, err := cmd.CombinedOutput()
	require.NoError(t, err, "dot:\n%s\ninput:\n%s", svg, r.stdout)
	for _, want := range []string{"container-1", "container-2", "br0", "172.16.1.1/16"} {
		require.Contains(t, html.UnescapeString(string(svg)), want)
	}

	r = output(t, nstopo(t.TempDir(), "graph", "-format", "mermaid", "-prefix", "p-", articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.True(t, strings.HasPrefix(r.stdout, "flowchart") || strings.HasPrefix(r.stdout, "graph"), "%s", r.stdout)
	require.Contains(t, r.stdout, "container-1")
}

// ping's picture of a Reachability: a matrix for a small lab, a line a node past
// matrixMax, the lost pings listed (ten unless -v) and Mininet's summary.
func TestPrintMatrix(t *testing.T) {
	lost := errors.New("timeout")
	r := &lab.Reachability{Results: []lab.PingResult{
		{From: "a", To: "b", Addr: netip.MustParseAddr("10.0.0.2")},
		{From: "a", To: "c", Addr: netip.MustParseAddr("10.0.0.3"), Err: lost},
		{From: "b", To: "a", Addr: netip.MustParseAddr("10.0.0.1")},
		{From: "b", To: "c", Addr: netip.MustParseAddr("10.0.0.3")},
		{From: "b", To: "c", Addr: netip.MustParseAddr("10.1.0.3"), Err: lost},
	}}
	var b strings.Builder
	printMatrix(&b, r, false)
	require.Equal(t, `from \ to  a   b   c
a          -   ok  X
b          ok  -   1/2
lost: a -> c 10.0.0.3: timeout
lost: b -> c 10.1.0.3: timeout
*** Results: 40% dropped (3/5 received)
`, b.String())

	r = &lab.Reachability{}
	for i := range matrixMax + 1 {
		for j := range matrixMax + 1 {
			if i != j {
				p := lab.PingResult{From: fmt.Sprintf("n%02d", i), To: fmt.Sprintf("n%02d", j), Addr: netip.MustParseAddr("10.0.0.1")}
				if j == 0 {
					p.Err = lost
				}
				r.Results = append(r.Results, p)
			}
		}
	}
	b.Reset()
	printMatrix(&b, r, false)
	require.Contains(t, b.String(), "from  received  unreachable\nn00   16/16     \nn01   15/16     n00\n")
	require.Contains(t, b.String(), "lost: 6 more (-v lists them)\n*** Results: 5% dropped (256/272 received)\n")
	b.Reset()
	printMatrix(&b, r, true)
	require.Equal(t, 16, strings.Count(b.String(), "lost: "))
	b.Reset()
	printMatrix(&b, &lab.Reachability{}, false)
	require.Equal(t, "nothing to ping: no node has an address on a link\n", b.String())
}

// A syntax error, a missing file and an unknown field are one problem each: the
// sentinel a parse error wraps is not a second one; counts are pluralised.
func TestValidateCountsProblems(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"syntax", "syntax.yaml", "name: x\n  topology: [\n", "1 problem"},
		{"missing", "none.yaml", "", "1 problem"},
		{"unknown and bad value", "two.yaml", "name: x\ntopology:\n  nodes:\n    a: {image: alpine, bridges: {br0: {addrs: [172.16.1.300/16]}}}\n", "2 problems"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dir + "/" + tc.file
			if tc.data != "" {
				path = writeFile(t, tc.file, tc.data)
			}
			r := output(t, nstopo(t.TempDir(), "validate", path), "")
			require.Equal(t, 2, r.code, "%s", r)
			require.Contains(t, r.stderr, path+": "+tc.want+"\n", "%s", r)
			require.NotContains(t, r.stderr, path+": netnsx:", "%s", r)
		})
	}
	one := writeFile(t, "one.yaml", "name: one\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    - endpoints: [\"a:e\", \"b:e\"]\n")
	r := output(t, nstopo(t.TempDir(), "validate", one), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "lab one: 2 nodes, 1 link, 0 overlays: ok", "%s", r)
}
