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
	require.Contains(t, out.String(), `"hello from host1\n" echoed`)
	require.Contains(t, out.String(), "fdb 00:00:00:00:00:00 dst 10.0.0.2 self=true permanent=true")
	require.True(t, strings.HasPrefix(pic.String(), "flowchart LR"), "-draw mermaid prints the picture:\n%s", pic.String())
	require.Contains(t, pic.String(), "VNI 42")
	require.NotContains(t, out.String(), "flowchart", "the picture goes apart from the report")
	requireGone(t, prefix)
}

// TestBadDraw: a bad -draw is refused with exit 2 before anything is built.
func TestBadDraw(t *testing.T) {
	prefix := netnsxtest.Name(0) + "-"
	stdout, stderr, code := iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-draw", "png"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, `-draw must be "dot" or "mermaid", not "png"`)
	require.Empty(t, stdout)
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
	require.Contains(t, stderr, `"hello from host1\n" echoed`, "the report goes to stderr")
	requireGone(t, prefix)

	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-keep"))
	require.Equal(t, 0, code, stderr)
	require.ElementsMatch(t, names(prefix), owned(t, prefix), "kept")
	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-keep"))
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "remove it with -clean")
	_, stderr, code = iptest.Output(t, iptest.Example(t, "-prefix", prefix, "-clean"))
	require.Equal(t, 0, code, stderr)
	requireGone(t, prefix)
}

// owned returns the namespaces whose names start with prefix.
func owned(t *testing.T, prefix string) []string {
	var ns []string
	for _, n := range iptest.Netns(t) {
		if strings.HasPrefix(n, prefix) {
			ns = append(ns, n)
		}
	}
	return ns
}

// requireGone checks that no namespace with the prefix is left in the kernel.
func requireGone(t *testing.T, prefix string) {
	t.Helper()
	require.Empty(t, owned(t, prefix), "left behind")
}
