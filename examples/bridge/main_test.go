package main

import (
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
	var out strings.Builder
	require.NoError(t, run(&out, prefix, false, "mermaid"))
	require.Contains(t, out.String(), `"hello from container-1\n"`)
	require.Contains(t, out.String(), "172.16.1.3/16")
	require.Contains(t, out.String(), "flowchart LR", "-draw mermaid prints the picture")
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
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
	require.NoError(t, run(&out, prefix, true, ""))
	eth0 := iptest.Links(t, prefix+"container-1")["eth0"]
	require.Equal(t, "172.16.1.2", eth0.AddrInfo[0].Local, "kept for ip netns exec")
	require.Equal(t, "br0", iptest.Links(t, prefix+"host")["veth1"].Master)

	// A second run with the same names fails cleanly and leaves the kept one alone.
	err := run(&out, prefix, false, "")
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Equal(t, "br0", iptest.Links(t, prefix+"host")["veth1"].Master)
}
