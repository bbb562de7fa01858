package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

func TestIntegrationExample(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	var out, pic strings.Builder
	require.NoError(t, run(context.Background(), &out, &pic, prefix, false, "mermaid"))
	require.Contains(t, out.String(), `"hello from container-1\n"`)
	require.Contains(t, out.String(), "172.16.1.3/16")
	require.True(t, strings.HasPrefix(pic.String(), "flowchart LR"), "-draw mermaid prints the picture:\n%s", pic.String())
	require.NotContains(t, out.String(), "flowchart", "the picture goes apart from the report")
	requireGone(t, prefix)
}

func TestIntegrationExampleKeep(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() {
		for _, n := range names(prefix) {
			_ = netnsx.Delete(n)
		}
	})
	var out strings.Builder
	require.NoError(t, run(context.Background(), &out, nil, prefix, true, ""))
	eth0 := iptest.Links(t, prefix+"container-1")["eth0"]
	require.Equal(t, "172.16.1.2", eth0.AddrInfo[0].Local, "kept for ip netns exec")
	require.Equal(t, "br0", iptest.Links(t, prefix+"host")["veth1"].Master)

	// A second run with the same names fails cleanly and leaves the kept one alone.
	err := run(context.Background(), &out, nil, prefix, false, "")
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Equal(t, "br0", iptest.Links(t, prefix+"host")["veth1"].Master)
}

// TestBadDraw: a bad -draw is refused with exit 2 before anything is built.
func TestBadDraw(t *testing.T) {
	prefix := netnsxtest.Name(0) + "-"
	stdout, stderr, code := iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-draw", "svg"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, `-draw must be "dot" or "mermaid", not "svg"`)
	require.Empty(t, stdout)
	require.NotContains(t, stderr, "built")
}

// TestIntegrationCommand runs the program as a user would: -draw dot puts only the
// picture on stdout; -keep twice says to use -clean; -clean removes the kept one.
func TestIntegrationCommand(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	t.Cleanup(func() {
		for _, n := range names(prefix) {
			_ = netnsx.Delete(n)
		}
	})
	stdout, stderr, code := iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-draw", "dot"))
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "graph "), "stdout is only the picture:\n%s", stdout)
	require.True(t, strings.HasSuffix(stdout, "}\n"), "stdout is only the picture:\n%s", stdout)
	require.Contains(t, stderr, `"hello from container-1\n" echoed`, "the report goes to stderr")
	requireGone(t, prefix)

	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-keep"))
	require.Equal(t, 0, code, stderr)
	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-keep"))
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "remove it with -clean")
	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-clean"))
	require.Equal(t, 0, code, stderr)
	requireGone(t, prefix)
}

// requireGone checks that no namespace with the prefix is left in the kernel.
func requireGone(t *testing.T, prefix string) {
	t.Helper()
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
}
