package main

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// TestIntegrationDockerLayout lays two namespaces out as Docker does — bind mounts
// under a netns directory, invisible to `ip netns` — and inspects them by path.
func TestIntegrationDockerLayout(t *testing.T) {
	a, b := netnsxtest.New(t), netnsxtest.New(t)
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.255.0.18/16")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.255.0.19/16")}},
	})
	require.NoError(t, err)
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker", "netns")
	require.NoError(t, os.MkdirAll(docker, 0o755))
	for id, ns := range map[string]string{"7ca58b86b82c": a.Path(), "9a556e2998b5": b.Path()} {
		p := filepath.Join(docker, id)
		require.NoError(t, os.WriteFile(p, nil, 0o444))
		require.NoError(t, unix.Mount(ns, p, "none", unix.MS_BIND, ""))
		t.Cleanup(func() { _ = unix.Unmount(p, unix.MNT_DETACH) })
	}

	var out, dot strings.Builder
	require.NoError(t, run(&out, &dot, options{docker: docker, draw: "dot"}))
	text := out.String()
	require.Contains(t, text, "== "+filepath.Join(docker, "7ca58b86b82c"))
	require.Contains(t, text, "eth0@eth0        UP     10.255.0.18/16")
	require.Contains(t, text, "10.255.0.0/16 dev eth0 src 10.255.0.18")
	require.NotContains(t, text, "== host")
	require.NotContains(t, text, "graph ", "the picture goes apart from the listing")

	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("apt-get install graphviz: this test renders the picture")
	}
	cmd := exec.Command("dot", "-Tsvg")
	cmd.Stdin = strings.NewReader(dot.String())
	svg, err := cmd.Output()
	require.NoError(t, err)
	require.Contains(t, string(svg), "10.255.0.19/16")

	var mmd strings.Builder
	require.NoError(t, run(&strings.Builder{}, &mmd, options{docker: docker, draw: "mermaid"}))
	require.True(t, strings.HasPrefix(mmd.String(), "flowchart LR"))
	require.Contains(t, mmd.String(), " --- ", "the veth pair is an edge")
}

// TestFlags: a bad -draw exits 2 before anything is read; -clean has nothing to do.
func TestFlags(t *testing.T) {
	stdout, stderr, code := iptest.Output(t, iptest.Example(t, "-docker", t.TempDir(), "-draw", "svg"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, `-draw must be "dot" or "mermaid", not "svg"`)
	require.Empty(t, stdout)

	stdout, stderr, code = iptest.Output(t, iptest.Example(t, "-clean"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "nothing to clean")
	require.Empty(t, stdout)
}
