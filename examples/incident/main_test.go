package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationIncident runs the article's incident and reads the captures back with
// tcpdump: a SYN from swarm02's client to container-1:8081, answered by a RST.
func TestIntegrationIncident(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	dir := t.TempDir()
	var out strings.Builder
	err := run(context.Background(), &out, nil, options{prefix: prefix, scenario: "reset", pcap: dir})
	require.NoError(t, err, out.String())
	story := out.String()
	for _, line := range []string{
		// the article's three observations
		"swarm02 client → container-1:8081: connection reset",
		"swarm01 client → container-1:8081: ok",
		"swarm02 client → container-2:8081: ok",
		// the sandbox's filter, as iptables -nvL
		"in tcp saddr 10.255.0.22/32 dport 8081 flags 0x2/0x12 reject with tcp reset",
		// the capture in container-1
		"SYN     10.255.0.22:",
		"RST     10.255.0.18:8081 → 10.255.0.22:",
		// the workaround: a timeout, not a cure
		"swarm02 client → container-1:8081: timeout",
		"in tcp flags 0x4/0x2f drop",
		"every observation as the story tells it",
	} {
		require.Contains(t, story, line, story)
	}
	healed := story[strings.Index(story, "== 7."):]
	require.Equal(t, 3, strings.Count(healed, ":8081: ok"), "the matrix is green after the fix:\n%s", healed)
	requireGone(t, prefix)

	files, err := filepath.Glob(filepath.Join(dir, "*.pcap"))
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "incident-container-1-eth0.pcap")}, files, "one file, for tcpdump -nr DIR/*.pcap")
	for _, file := range files {
		dump, err := iptest.Tcpdump(file, "tcp")
		require.NoError(t, err, "%s", dump)
		syn := regexp.MustCompile(`IP 10\.255\.0\.22\.(\d+) > 10\.255\.0\.18\.8081: Flags \[S\]`).FindStringSubmatch(string(dump))
		require.NotNil(t, syn, "%s: no SYN to 8081:\n%s", file, dump)
		require.Contains(t, string(dump), "IP 10.255.0.18.8081 > 10.255.0.22."+syn[1]+": Flags [R.]", "%s: the SYN is not answered by a RST:\n%s", file, dump)
	}
}

// TestIntegrationIncidentMTU runs the MTU blackhole: small requests pass, the bulk
// transfer stalls with nothing big arriving, and passes once the MTU is 1450.
func TestIntegrationIncidentMTU(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	dir := t.TempDir()
	var out strings.Builder
	err := run(context.Background(), &out, nil, options{prefix: prefix, scenario: "mtu", pcap: dir})
	require.NoError(t, err, out.String())
	story := out.String()
	for _, line := range []string{
		"swarm01 client → container-1:8081: ok",
		"transfer stalled: ",
		"(timeout)",
		"0        0  in tcp length > 1450 accept",
		"ICMP fragmentation needed (mtu 1450) 10.255.0.18 → 10.255.0.21",
		"container-1 eth0:    0 segments longer than 1450 bytes arrived",
		"1024 KiB echoed in",
		"every observation as the story tells it",
	} {
		require.Contains(t, story, line, story)
	}
	requireGone(t, prefix)

	dump, err := iptest.Tcpdump(filepath.Join(dir, "mtu-swarm01-client-eth0.pcap"), "icmp")
	require.NoError(t, err, "%s", dump)
	require.Contains(t, string(dump), "10.255.0.18 > 10.255.0.21: ICMP 10.255.0.18 unreachable - need to frag (mtu 1450)", "%s", dump)
}

// TestIntegrationIncidentKept keeps the healed swarm, finds it with ip, and removes it
// as -clean does.
func TestIntegrationIncidentKept(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() { _, _ = cleanup(prefix) })
	var out, pic strings.Builder
	require.NoError(t, run(context.Background(), &out, &pic, options{prefix: prefix, scenario: "reset", keep: true, draw: "mermaid"}), out.String())
	require.True(t, strings.HasPrefix(pic.String(), "flowchart LR"), "-draw mermaid prints the picture:\n%s", pic.String())
	require.Contains(t, pic.String(), "VNI 4096")
	require.NotContains(t, out.String(), "flowchart", "the picture goes apart from the story")
	links := iptest.Links(t, prefix+"container-1")
	require.Equal(t, overlayMTU, links["eth0"].MTU)
	require.Equal(t, "02:42:0a:ff:00:12", links["eth0"].Address)
	n, err := cleanup(prefix)
	require.NoError(t, err)
	require.Equal(t, 1+3+4, n)
	requireGone(t, prefix)
}

func TestScenarioInvalid(t *testing.T) {
	err := run(context.Background(), &strings.Builder{}, nil, options{prefix: "never-", scenario: "partition"})
	require.ErrorContains(t, err, `-scenario must be "reset" or "mtu"`)
}

// TestFlagsRefused: bad flags exit 2 before anything is built.
func TestFlagsRefused(t *testing.T) {
	prefix := netnsxtest.Name(0) + "-"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-draw", "svg"}, `-draw must be "dot" or "mermaid", not "svg"`},
		{[]string{"-scenario", "partition"}, `-scenario must be "reset" or "mtu", not "partition"`},
		{[]string{"-clean", "-prefix", ""}, "-clean needs a -prefix"},
	} {
		args := append([]string{"-prefix", prefix}, tc.args...)
		stdout, stderr, code := iptest.Output(t, iptest.Example(t, args...))
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want)
		require.Empty(t, stdout)
	}
}

// TestIntegrationDrawStdout: with -draw, stdout carries only the picture and the story
// goes to stderr.
func TestIntegrationDrawStdout(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() { _, _ = cleanup(prefix) })
	stdout, stderr, code := iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-draw", "dot"))
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "graph "), "stdout is only the picture:\n%s", stdout)
	require.True(t, strings.HasSuffix(stdout, "}\n"), "stdout is only the picture:\n%s", stdout)
	require.Contains(t, stderr, "every observation as the story tells it")
	requireGone(t, prefix)
}

// requireGone checks that no namespace with the prefix is left in the kernel.
func requireGone(t *testing.T, prefix string) {
	t.Helper()
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
}
