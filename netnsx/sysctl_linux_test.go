package netnsx_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

func TestIntegrationSysctl(t *testing.T) {
	ns := netnsxtest.New(t)
	hostBefore, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)

	// A new namespace starts from the host's value (net.core.devconf_inherit_init_net),
	// which is not ours to assume: flip whatever it is.
	v, err := ns.Sysctl("net.ipv4.ip_forward")
	require.NoError(t, err)
	want := map[string]string{"0": "1", "1": "0"}[v]
	require.NotEmpty(t, want, "ip_forward reads %q", v)
	require.NoError(t, ns.SetSysctl("net.ipv4.ip_forward", want))
	out, err := exec.Command("ip", "netns", "exec", ns.Name(), "cat", "/proc/sys/net/ipv4/ip_forward").Output()
	require.NoError(t, err)
	require.Equal(t, want, strings.TrimSpace(string(out)), "ip netns exec sees it")
	v, err = ns.Sysctl("net.ipv4.ip_forward")
	require.NoError(t, err)
	require.Equal(t, want, v)
	hostAfter, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	require.NoError(t, err)
	require.Equal(t, string(hostBefore), string(hostAfter), "the host's setting is untouched")

	_, err = ns.Sysctl("net.ipv4.no_such_setting")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.ErrorIs(t, ns.SetSysctl("net.ipv4.ip_forward", "not a number"), netnsx.ErrInvalid)
	for _, key := range []string{"kernel.hostname", "net/ipv4/ip_forward", "net..x", ""} {
		require.ErrorIs(t, ns.SetSysctl(key, "1"), netnsx.ErrInvalid, key)
	}
	for _, value := range []string{"", "1\n0", "1\x00"} {
		require.ErrorIs(t, ns.SetSysctl("net.ipv4.ip_forward", value), netnsx.ErrInvalid, "%q", value)
	}
	v, err = ns.Sysctl("net.ipv4.ip_forward")
	require.NoError(t, err)
	require.Equal(t, want, v, "refused writes changed nothing")
}
