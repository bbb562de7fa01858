package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

func TestIntegrationExample(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	prefix := netnsxtest.Name(0) + "-"
	var out strings.Builder
	require.NoError(t, run(&out, prefix, false))
	require.Contains(t, out.String(), `"hello from host1\n" echoed`)
	require.Contains(t, out.String(), "fdb 00:00:00:00:00:00 dst 10.0.0.2 self=true permanent=true")
	for _, n := range iptest.Netns(t) {
		require.False(t, strings.HasPrefix(n, prefix), "%s left behind", n)
	}
}
