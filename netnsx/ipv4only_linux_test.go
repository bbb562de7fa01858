package netnsx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// sysctlVia reads a setting of a namespace with a second tool, as a user would.
func sysctlVia(t *testing.T, ns *netnsx.NS, key string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns.Name(), "sysctl", "-n", key).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// inet6Addrs lists the IPv6 addresses of dev in ns, as `ip -j addr` shows them.
func inet6Addrs(t *testing.T, ns *netnsx.NS, dev string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns.Name(), "-j", "addr", "show", "dev", dev).Output()
	require.NoError(t, err)
	var links []struct {
		AddrInfo []struct{ Family, Local string } `json:"addr_info"`
	}
	require.NoError(t, json.Unmarshal(out, &links))
	var v6 []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet6" {
				v6 = append(v6, a.Local)
			}
		}
	}
	return v6
}

func TestIntegrationIPv4Only(t *testing.T) {
	a := netnsxtest.NewIPv4Only(t, "v4a")
	b := netnsxtest.NewIPv4Only(t, "v4b")
	for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6", "net.ipv6.conf.lo.disable_ipv6"} {
		require.Equal(t, "1", sysctlVia(t, a, key), key)
	}
	require.Empty(t, inet6Addrs(t, a, "lo"), "lo has no ::1")

	_, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24")}},
	})
	require.NoError(t, err)
	for _, ns := range []*netnsx.NS{a, b} {
		require.Equal(t, "1", sysctlVia(t, ns, "net.ipv6.conf.eth0.disable_ipv6"), "a veth made later")
		require.Empty(t, inet6Addrs(t, ns, "eth0"), "no link-local address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = a.Ping(ctx, netip.MustParseAddr("10.9.0.2"))
	require.NoError(t, err, "IPv4 works")

	// Every way of giving an interface an IPv6 address is refused, truthfully.
	refused := func(what string, err error) {
		t.Helper()
		require.ErrorIs(t, err, netnsx.ErrNotSupported, what)
		require.ErrorIs(t, err, syscall.EACCES, what+": the kernel's errno stays reachable")
		require.NotErrorIs(t, err, netnsx.ErrPermission, what+": no privilege is missing")
		require.Contains(t, err.Error(), "IPv6 is disabled", what)
	}
	eth0, err := a.Link("eth0")
	require.NoError(t, err)
	refused("Link.AddAddr", eth0.AddAddr(netip.MustParsePrefix("fd00::1/64")))
	_, err = bridge.Create(a, bridge.Config{Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("fd00:1::1/64")}})
	refused("bridge.Create", err)
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "v6a"},
		B: veth.End{NS: b, Name: "v6b", Addrs: []netip.Prefix{netip.MustParsePrefix("fd00:2::2/64")}},
	})
	refused("veth.Create", err)
	_, err = vxlan.Create(a, vxlan.Config{Name: "vxlan0", VNI: 42, Addrs: []netip.Prefix{netip.MustParsePrefix("fd00:3::1/64")}})
	refused("vxlan.Create", err)
	for _, name := range []string{"br0", "v6a", "vxlan0"} {
		_, err := a.Link(name)
		require.ErrorIs(t, err, netnsx.ErrNotFound, "%s was removed: all or nothing", name)
	}
	_, err = b.Link("v6b")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
}

// Without IPv4Only, IPv6 stays as the host has it: a namespace is no IPv4 lab unless asked.
func TestIntegrationIPv6StaysOn(t *testing.T) {
	ns := netnsxtest.New(t)
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("this kernel has no IPv6")
	}
	require.Equal(t, "0", sysctlVia(t, ns, "net.ipv6.conf.default.disable_ipv6"))
	br, err := bridge.Create(ns, bridge.Config{Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}})
	require.NoError(t, err)
	require.Contains(t, inet6Addrs(t, ns, br.Name()), "fd00::1")
}

func TestCreateRefusesBadConfig(t *testing.T) {
	noKernel(t)
	for _, name := range []string{"", "a/b", ".."} {
		_, err := netnsx.Create(netnsx.Config{Name: name, IPv4Only: true})
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%q", name)
	}
}

// TestIntegrationCreateIPv4OnlyAllOrNothing fails each step of Create, the sysctl
// writes included: nothing may remain.
func TestIntegrationCreateIPv4OnlyAllOrNothing(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	name := "nstopo-fault-" + netnsxtest.Name(0)
	sawSysctl := false
	calls, err := failpoint.Walk(func() error {
		_, err := netnsx.Create(netnsx.Config{Name: name, IPv4Only: true})
		return err
	}, func(n int, err, injected error) {
		require.ErrorIs(t, err, injected)
		sawSysctl = sawSysctl || strings.Contains(err.Error(), "disable_ipv6")
		_, statErr := os.Stat(filepath.Join("/run/netns", name))
		require.True(t, errors.Is(statErr, os.ErrNotExist), "mount point left after call %d", n)
	})
	require.NoError(t, err)
	require.NoError(t, netnsx.Delete(name))
	require.True(t, sawSysctl, "the sysctl writes were among the steps failed")
	require.GreaterOrEqual(t, calls, 7)
}

// Settings go through a private procfs where the kernel allows one (a lookup under
// /proc/sys/net grows with the number of namespaces) and through /proc otherwise; both
// ways must reach the namespace's own settings.
func TestIntegrationSysctlsBothWays(t *testing.T) {
	for _, private := range []bool{true, false} {
		t.Run(map[bool]string{true: "private", false: "proc"}[private], func(t *testing.T) {
			var calls, made int
			restore := netnsx.SetNewProc(func(real func() (int, error)) (int, error) {
				calls++
				if !private {
					return -1, syscall.EPERM
				}
				fd, err := real()
				if err == nil {
					made++
				}
				return fd, err
			})
			defer restore()
			ns := netnsxtest.NewIPv4Only(t, "sysw")
			require.Equal(t, 1, calls, "Create opens procfs once for both keys")
			t.Logf("private procfs instances made: %d", made) // none where unprivileged over the PID namespace
			for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
				require.Equal(t, "1", sysctlVia(t, ns, key), key)
			}
			require.NoError(t, ns.SetSysctl("net.ipv4.ip_forward", "1"))
			require.Equal(t, "1", sysctlVia(t, ns, "net.ipv4.ip_forward"))
			v, err := ns.Sysctl("net.ipv4.ip_forward")
			require.NoError(t, err)
			require.Equal(t, "1", v)
			require.Equal(t, 3, calls)
			other := netnsxtest.New(t, "sysw-other")
			require.Equal(t, "0", sysctlVia(t, other, "net.ipv4.ip_forward"), "only ns changed")
			_, err = ns.Sysctl("net.ipv4.no_such_key")
			require.ErrorIs(t, err, netnsx.ErrNotFound)
		})
	}
}
