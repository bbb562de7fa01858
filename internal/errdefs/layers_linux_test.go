package errdefs_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// TestIntegrationErrorsWrapOnce: every error reads "package: op object: " once for the
// layer the user called, then the sentinel's text once, then the detail or the errno,
// which stays reachable with errors.Is.
func TestIntegrationErrorsWrapOnce(t *testing.T) {
	ns := netnsxtest.New(t)
	closed := netnsxtest.New(t)
	require.NoError(t, closed.Close())
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	gone, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "d1"}, B: veth.End{NS: ns, Name: "d2"}})
	require.NoError(t, err)
	require.NoError(t, gone.Delete())
	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vx0", VNI: 7})
	require.NoError(t, err)
	mac := []byte{2, 0, 0, 0, 0, 1}

	N, C := ns.Name(), closed.Name()
	for _, tc := range []struct {
		err  error
		want string
		is   []error
	}{
		{func() error { _, err := closed.Links(); return err }(),
			"netnsx: links " + C + ": netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error { _, err := closed.Link("eth0"); return err }(),
			"netnsx: link eth0 in " + C + ": netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error { _, err := closed.Sysctl("net.ipv4.ip_forward"); return err }(),
			"netnsx: sysctl net.ipv4.ip_forward in " + C + ": netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{closed.SetSysctl("net.ipv4.ip_forward", "1"),
			"netnsx: sysctl net.ipv4.ip_forward=1 in " + C + ": netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{closed.Delete(),
			"netnsx: delete " + C + ": netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error { _, err := bridge.Create(closed, bridge.Config{Name: "br0"}); return err }(),
			"bridge: create br0: netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error { _, err := bridge.Open(closed, "br0"); return err }(),
			"bridge: open br0: netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error { _, err := vxlan.Open(closed, "vx0"); return err }(),
			"vxlan: open vx0: netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},
		{func() error {
			_, err := veth.Create(veth.Config{A: veth.End{NS: closed, Name: "a"}, B: veth.End{NS: ns, Name: "b"}})
			return err
		}(),
			"veth: create a/b: netnsx: namespace handle is closed", []error{netnsx.ErrInvalid, netnsx.ErrClosed}},

		{func() error { _, err := bridge.Create(ns, bridge.Config{Name: "br0"}); return err }(),
			"bridge: create br0: netnsx: already exists: file exists", []error{netnsx.ErrExists, unix.EEXIST}},
		{func() error { _, err := bridge.Open(ns, "nope"); return err }(),
			"bridge: open nope: netnsx: not found: no such device", []error{netnsx.ErrNotFound, unix.ENODEV}},
		{func() error { _, err := bridge.Open(ns, "vx0"); return err }(),
			`bridge: open vx0: netnsx: invalid argument: vx0 is a "vxlan" link, not a bridge`, []error{netnsx.ErrInvalid}},
		{func() error { _, err := bridge.Open(ns, "a/b"); return err }(),
			`bridge: open a/b: netnsx: invalid argument: name "a/b" has byte '/' at 1 (want printable ASCII without '/', ':', '%' or white space)`, []error{netnsx.ErrInvalid}},
		{func() error { _, err := bridge.Open(ns, ""); return err }(),
			"bridge: open: netnsx: invalid argument: name is empty", []error{netnsx.ErrInvalid}},
		{func() error { _, err := vxlan.Open(ns, "nope"); return err }(),
			"vxlan: open nope: netnsx: not found: no such device", []error{netnsx.ErrNotFound, unix.ENODEV}},
		{func() error { _, err := vxlan.Open(ns, "br0"); return err }(),
			`vxlan: open br0: netnsx: invalid argument: br0 is a "bridge" link, not a VXLAN device`, []error{netnsx.ErrInvalid}},
		{br.Attach(gone.A),
			"bridge: attach d1 to br0: netnsx: not found: no such device", []error{netnsx.ErrNotFound, unix.ENODEV}},
		{gone.Delete(),
			"veth: delete d1/d2: netnsx: not found: no such device", []error{netnsx.ErrNotFound, unix.ENODEV}},
		{gone.A.Up(),
			"netnsx: up d1: netnsx: not found: no such device", []error{netnsx.ErrNotFound, unix.ENODEV}},
		{func() error {
			_, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "a"}, B: veth.End{NS: ns, Name: "b", Addrs: []netip.Prefix{{}}}})
			return err
		}(),
			"veth: create a/b: netnsx: invalid argument: B.Addrs: invalid prefix", []error{netnsx.ErrInvalid}},
		{func() error { _, err := bridge.Create(ns, bridge.Config{}); return err }(),
			"bridge: create: netnsx: invalid argument: Name is empty", []error{netnsx.ErrInvalid}},
		{func() error { _, err := vxlan.Create(ns, vxlan.Config{}); return err }(),
			"vxlan: create: netnsx: invalid argument: Name is empty", []error{netnsx.ErrInvalid}},
		{func() error { _, err := veth.Create(veth.Config{A: veth.End{NS: ns}, B: veth.End{NS: ns}}); return err }(),
			"veth: create: netnsx: invalid argument: A.Name is empty", []error{netnsx.ErrInvalid}},
		{func() error {
			_, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "a"}, B: veth.End{NS: ns}})
			return err
		}(),
			"veth: create a: netnsx: invalid argument: B.Name is empty", []error{netnsx.ErrInvalid}},
		{dev.AddRemote(netip.Addr{}),
			"vxlan: add remote to vx0: netnsx: invalid argument: VTEP: invalid address", []error{netnsx.ErrInvalid}},
		{dev.AddFDB(nil, netip.MustParseAddr("10.0.0.1")),
			"vxlan: add fdb to vx0: netnsx: invalid argument: MAC is nil", []error{netnsx.ErrInvalid}},
		{dev.AddNeighbor(netip.Addr{}, mac),
			"vxlan: add neighbor to vx0: netnsx: invalid argument: IP: invalid address", []error{netnsx.ErrInvalid}},
		{dev.AddNeighbor(netip.MustParseAddr("10.0.0.1"), nil),
			"vxlan: add neighbor 10.0.0.1 to vx0: netnsx: invalid argument: MAC is nil", []error{netnsx.ErrInvalid}},
		{func() error { _, err := ns.Sysctl("net.ipv4"); return err }(),
			"netnsx: sysctl net.ipv4 in " + N + ": netnsx: invalid argument: read /proc/sys/net/ipv4: is a directory", []error{netnsx.ErrInvalid, unix.EISDIR}},
	} {
		if !assert.Error(t, tc.err, tc.want) {
			continue
		}
		assert.Equal(t, tc.want, tc.err.Error())
		for _, target := range tc.is {
			assert.True(t, errors.Is(tc.err, target), "%q is not %v", tc.err, target)
		}
		for _, s := range []error{netnsx.ErrExists, netnsx.ErrNotFound, netnsx.ErrInvalid, netnsx.ErrPermission, netnsx.ErrNotSupported, netnsx.ErrClosed} {
			assert.LessOrEqual(t, strings.Count(tc.err.Error(), s.Error()), 1, "%q repeats %q", tc.err, s)
		}
	}
}
