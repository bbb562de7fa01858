package netnsx_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
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
		"Up":              l.Up(),
		"Down":            l.Down(),
		"Delete":          l.Delete(),
		"SetMTU":          l.SetMTU(1500),
		"AddAddr":         l.AddAddr(netip.MustParsePrefix("10.0.0.1/24")),
		"SetMaster":       l.SetMaster(nil),
		"NoMaster":        l.NoMaster(),
		"RemoveAddr":      l.RemoveAddr(netip.MustParsePrefix("10.0.0.1/24")),
		"SetName":         l.SetName("eth1"),
		"SetHardwareAddr": l.SetHardwareAddr(net.HardwareAddr{2, 0, 0, 0, 0, 1}),
		"SetNS":           l.SetNS(nil),
	} {
		require.ErrorIs(t, err, netnsx.ErrInvalid, "nil link %s", name)
	}
	_, err := l.Addrs()
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = l.HardwareAddr()
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = l.Stats()
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
		{Dst: p("10.1.0.0/16"), Dev: "eth0", Table: -1},          // table out of range
		{Dst: p("10.1.0.0/16"), Dev: "eth0", Table: past32},      // table out of range
		{Dst: p("10.1.0.0/16"), Dev: "eth0", Metric: -1},         // metric out of range
		{Dst: p("10.1.0.0/16"), Dev: "eth0", Metric: past32},     // metric out of range
		{Dst: p("fd00::/64"), Gateway: a("10.0.0.1")},            // family mismatch
		{Gateway: a("fe80::1%eth0")},                             // a zone
	} {
		require.ErrorIs(t, host.AddRoute(r), netnsx.ErrInvalid, "AddRoute(%+v)", r)
		require.ErrorIs(t, host.ReplaceRoute(r), netnsx.ErrInvalid, "ReplaceRoute(%+v)", r)
		if r.Src.IsValid() {
			continue // DeleteRoute ignores Src
		}
		require.ErrorIs(t, host.DeleteRoute(r), netnsx.ErrInvalid, "DeleteRoute(%+v)", r)
	}
	for _, table := range []int{-1, past32} {
		_, err := host.RoutesIn(table)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "RoutesIn(%d)", table)
	}
	_, err = host.Output(context.Background(), "true")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
}

// past32 is 2³², past every table and metric, where int has 64 bits; elsewhere -1,
// refused as well. (A constant would not compile for 32-bit platforms.)
var past32 = func() int {
	if strconv.IntSize == 64 {
		v := uint64(1) << 32
		return int(v)
	}
	return -1
}()

// nilCtx is a nil context.Context, as a careless caller passes one.
var nilCtx context.Context

// The calls that change a link in place refuse bad input with ErrInvalid naming the
// field, before any kernel call, on a real link of a real namespace.
func TestIntegrationInPlaceRefusesFirst(t *testing.T) {
	ns := netnsxtest.New(t)
	lo, err := ns.Link("lo")
	require.NoError(t, err)
	closed := netnsxtest.New(t)
	require.NoError(t, closed.Close())
	noKernel(t)
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name, field string
		err         error
	}{
		{"RemoveAddr zero", "address", lo.RemoveAddr(netip.Prefix{})},
		{"RemoveAddr multicast", "address", lo.RemoveAddr(p("224.0.0.1/4"))},
		{"RemoveAddr unspecified", "address", lo.RemoveAddr(p("0.0.0.0/0"))},
		{"RemoveAddr mapped", "address", lo.RemoveAddr(p("::ffff:10.0.0.1/120"))},
		{"SetName empty", "name", lo.SetName("")},
		{"SetName long", "name", lo.SetName(strings.Repeat("x", 16))},
		{"SetName slash", "name", lo.SetName("a/b")},
		{"SetName dot", "name", lo.SetName("..")},
		{"SetName template", "name", lo.SetName("eth%d")},
		{"SetName space", "name", lo.SetName("a b")},
		{"SetHardwareAddr nil", "hardware address", lo.SetHardwareAddr(nil)},
		{"SetHardwareAddr short", "hardware address", lo.SetHardwareAddr(net.HardwareAddr{2, 0, 0})},
		{"SetHardwareAddr long", "hardware address", lo.SetHardwareAddr(make(net.HardwareAddr, 20))},
		{"SetHardwareAddr multicast", "hardware address", lo.SetHardwareAddr(net.HardwareAddr{1, 0, 0x5e, 0, 0, 1})},
		{"SetHardwareAddr broadcast", "hardware address", lo.SetHardwareAddr(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
		{"SetHardwareAddr zero", "hardware address", lo.SetHardwareAddr(make(net.HardwareAddr, 6))},
		{"SetNS nil", "nil namespace", lo.SetNS(nil)},
		{"SetNS closed", "closed", lo.SetNS(closed)},
		{"RoutesIn negative", "table", func() error { _, err := ns.RoutesIn(-5); return err }()},
		{"ReplaceRoute table", "Table", ns.ReplaceRoute(netnsx.Route{Dst: p("10.1.0.0/16"), Dev: "lo", Table: -1})},
		{"DeleteRoute metric", "Metric", ns.DeleteRoute(netnsx.Route{Dst: p("10.1.0.0/16"), Dev: "lo", Metric: -1})},
		{"Output nil ctx", "nil context", func() error { _, err := ns.Output(nilCtx, "true"); return err }()},
		{"Output empty", "empty program name", func() error { _, err := ns.Output(context.Background(), ""); return err }()},
	} {
		require.ErrorIs(t, tc.err, netnsx.ErrInvalid, tc.name)
		require.Contains(t, tc.err.Error(), tc.field, tc.name)
	}
	require.Same(t, ns, lo.NS(), "a refused move leaves the link where it was")
}
