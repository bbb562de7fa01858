package netnsx_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// dummy is a link kind as the kind packages write one: attributes in. It is a veth
// (the dummy module may be missing), its peer "<name>p" in the same namespace.
type dummy netnsx.LinkAttrs

func (d dummy) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	return netnsx.LinkAttrs(d), kind.Info{Kind: "veth"}
}

func peerIn(ns *netnsx.NS, name string) *netnsx.PeerAttrs {
	return &netnsx.PeerAttrs{NS: ns, LinkAttrs: netnsx.LinkAttrs{Name: name}}
}

type bridgeKind struct{ name string }

func (b bridgeKind) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	return netnsx.LinkAttrs{Name: b.name}, kind.Info{Kind: "bridge", Data: []kind.Attr{kind.U32(unix.IFLA_BR_STP_STATE, 0)}}
}

func TestAddLinkRefusesFirst(t *testing.T) {
	noKernel(t)
	_, err := (*netnsx.NS)(nil).AddLink(dummy{Name: "d0"})
	require.ErrorIs(t, err, netnsx.ErrInvalid, "nil is never the host")
	var ns netnsx.NS
	_, err = ns.AddLink(nil)
	require.ErrorIs(t, err, netnsx.ErrInvalid)
}

func TestIntegrationAddLink(t *testing.T) {
	ns, other := netnsxtest.New(t), netnsxtest.New(t)
	br, err := ns.AddLink(bridgeKind{"br0"})
	require.NoError(t, err)
	require.Equal(t, "bridge", br.Kind())
	require.Same(t, ns, br.NS(), "the handle given, as Link returns it")
	d, err := ns.AddLink(dummy{Name: "d0", MTU: 1400, Master: br, Peer: peerIn(ns, "d0p"), Addrs: []netip.Prefix{netip.MustParsePrefix("10.3.0.1/24")}})
	require.NoError(t, err)
	view := iptest.Links(t, ns.Name())
	require.Equal(t, "br0", view["d0"].Master)
	require.Equal(t, 1400, view["d0"].MTU)
	require.Contains(t, view["d0"].Flags, "UP")

	for _, bad := range []dummy{
		{Name: "d/1"},
		{Name: "d1", MTU: 10},
		{Name: "d1", Master: d},
		{Name: "d1", Addrs: []netip.Prefix{netip.MustParsePrefix("224.0.0.1/4")}},
		{Name: "d1", Peer: &netnsx.PeerAttrs{LinkAttrs: netnsx.LinkAttrs{Name: "d1p"}}},
		{Name: "d1", Peer: peerIn(ns, "d1")},
		{Name: "d1", Peer: peerIn(ns, "d1/p")},
	} {
		_, err := ns.AddLink(bad)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%+v", bad)
	}
	_, err = other.AddLink(dummy{Name: "d1", Master: br, Peer: peerIn(other, "d1p")})
	require.ErrorIs(t, err, netnsx.ErrInvalid, "a master in another namespace")
	require.NotContains(t, iptest.Links(t, other.Name()), "d1")
	require.True(t, br.NS().SameNamespace(ns))
	require.False(t, ns.SameNamespace(other))
	require.False(t, (*netnsx.NS)(nil).SameNamespace(nil))
}

// TestIntegrationFDB adds, appends, lists and deletes entries through Link and checks
// them with `bridge -j fdb show`.
func TestIntegrationFDB(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := ns.AddLink(bridgeKind{"br0"})
	require.NoError(t, err)
	port, err := ns.AddLink(dummy{Name: "d0", Master: br, Peer: peerIn(ns, "d0p")})
	require.NoError(t, err)
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 7}
	require.NoError(t, port.AddFDB(netnsx.FDBEntry{HardwareAddr: mac}))
	has := func() bool {
		for _, e := range iptest.FDBs(t, ns.Name()) {
			if e.MAC == mac.String() && e.Dev == "d0" && e.Master == "br0" && e.State == "static" {
				return true
			}
		}
		return false
	}
	require.True(t, has(), "bridge fdb shows the static entry")
	for _, l := range []*netnsx.Link{port, br} {
		entries, err := l.FDB()
		require.NoError(t, err)
		found := false
		for _, e := range entries {
			found = found || (e.HardwareAddr.String() == mac.String() && e.Dev == "d0" && !e.Self && !e.Permanent)
		}
		require.True(t, found, "%s lists the entry: %+v", l, entries)
	}
	require.NoError(t, port.DeleteFDB(netnsx.FDBEntry{HardwareAddr: mac}))
	require.False(t, has())
	require.ErrorIs(t, port.AddFDB(netnsx.FDBEntry{HardwareAddr: mac[:3]}), netnsx.ErrInvalid)
	require.ErrorIs(t, port.AppendFDB(netnsx.FDBEntry{HardwareAddr: mac, Dst: netip.MustParseAddr("239.1.1.1")}), netnsx.ErrInvalid)
	var nilLink *netnsx.Link
	require.ErrorIs(t, nilLink.AddFDB(netnsx.FDBEntry{HardwareAddr: mac}), netnsx.ErrInvalid)
}

// TestIntegrationAddLinkAllOrNothing fails each kernel call of AddLink in turn.
func TestIntegrationAddLinkAllOrNothing(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := ns.AddLink(bridgeKind{"br0"})
	require.NoError(t, err)
	calls, err := failpoint.Walk(func() error {
		_, err := ns.AddLink(dummy{Name: "d0", Master: br, Peer: peerIn(ns, "d0p"), Addrs: []netip.Prefix{netip.MustParsePrefix("10.3.0.1/24")}})
		return err
	}, func(n int, err, injected error) {
		require.True(t, errors.Is(err, injected), "call %d: %v", n, err)
		require.NotContains(t, iptest.Links(t, ns.Name()), "d0", "after call %d", n)
		require.NotContains(t, iptest.Links(t, ns.Name()), "d0p", "after call %d", n)
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls, "the pair, its address, the peer up")
}
