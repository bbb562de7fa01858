package netnsx_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/netnsx"
)

// noKernel fails the test if any constructor step is reached: bad input must be refused
// before the first syscall.
func noKernel(t *testing.T) {
	t.Cleanup(failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return errors.New("stop")
	}))
}

func TestNewRefusesBadNames(t *testing.T) {
	noKernel(t)
	bad := []string{"", ".", "..", "../../etc/passwd", "a/b", "a b", "nul\x00", "new\nline", "tab\t", "ü", strings.Repeat("n", 256)}
	for _, name := range bad {
		_, err := netnsx.New(name)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "New(%q)", name)
		require.Contains(t, err.Error(), "namespace name")
		_, err = netnsx.Open(name)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "Open(%q)", name)
		require.ErrorIs(t, netnsx.Delete(name), netnsx.ErrInvalid, "Delete(%q)", name)
	}
	names, err := netnsx.List()
	require.NoError(t, err)
	for _, name := range bad {
		require.NotContains(t, names, name, "a refused name reached /run/netns")
	}
	_, err = netnsx.OpenPath("relative/path")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
}

func TestNilAndBadArguments(t *testing.T) {
	var l *netnsx.Link
	for name, err := range map[string]error{
		"Up":        l.Up(),
		"Down":      l.Down(),
		"Delete":    l.Delete(),
		"SetMTU":    l.SetMTU(1500),
		"AddAddr":   l.AddAddr(netip.MustParsePrefix("10.0.0.1/24")),
		"SetMaster": l.SetMaster(nil),
	} {
		require.ErrorIs(t, err, netnsx.ErrInvalid, "nil link %s", name)
	}
	_, err := l.Addrs()
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = l.HardwareAddr()
	require.ErrorIs(t, err, netnsx.ErrInvalid)

	var host *netnsx.NS // nil is the host: refused arguments must not reach it
	require.ErrorIs(t, host.Do(nil), netnsx.ErrInvalid)
	require.ErrorIs(t, host.Start(nil), netnsx.ErrInvalid)
	require.ErrorIs(t, host.Delete(), netnsx.ErrInvalid, "the host has no name to delete")
	_, err = host.Link("bad/name")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, r := range []netnsx.Route{
		{},                      // neither gateway nor device
		{Dst: p("10.1.0.0/16")}, // neither gateway nor device
		{Dev: "eth0"},           // default route without a gateway
		{Dst: p("10.1.0.0/16"), Gateway: a("fd00::1")},           // family mismatch
		{Dst: p("10.1.0.0/16"), Gateway: a("224.0.0.1")},         // multicast gateway
		{Dst: p("10.1.0.0/16"), Gateway: a("0.0.0.0")},           // unspecified gateway
		{Dst: p("10.1.0.0/16"), Dev: "a/b"},                      // bad device name
		{Dst: p("10.1.0.0/16"), Dev: "eth0", Src: a("10.1.0.1")}, // Src is read back only
		{Dst: p("::ffff:10.0.0.0/104"), Dev: "eth0"},             // IPv4-mapped
	} {
		require.ErrorIs(t, host.AddRoute(r), netnsx.ErrInvalid, "AddRoute(%+v)", r)
	}
}
