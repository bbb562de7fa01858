package bridge_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// TestIntegrationAttachAllOrNothing: when a later port fails in the kernel, the ports
// Attach already attached go back to where they were.
func TestIntegrationAttachAllOrNothing(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	other, err := bridge.Create(ns, bridge.Config{Name: "br1"})
	require.NoError(t, err)
	p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "p1"}, B: veth.End{NS: ns, Name: "p2", Master: other.Link}})
	require.NoError(t, err)
	gone, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "d1"}, B: veth.End{NS: ns, Name: "d2"}})
	require.NoError(t, err)
	require.NoError(t, gone.Delete())

	err = br.Attach(p.A, p.B, gone.A)
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	view := iptest.Links(t, ns.Name())
	require.Empty(t, view["p1"].Master, "p1 was attached by the failed call")
	require.Equal(t, "br1", view["p2"].Master, "p2 goes back to its own bridge")
}

// TestIntegrationAttachBridge: a bridge is no port of a bridge (the kernel says ELOOP);
// that is a bad argument, refused before the kernel sees it.
func TestIntegrationAttachBridge(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	other, err := bridge.Create(ns, bridge.Config{Name: "br1"})
	require.NoError(t, err)
	p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "p1"}, B: veth.End{NS: ns, Name: "p2"}})
	require.NoError(t, err)

	for _, err := range []error{
		br.Attach(br.Link),
		br.Attach(p.A, other.Link),
		br.Link.SetMaster(br.Link),
		other.Link.SetMaster(br.Link),
	} {
		require.ErrorIs(t, err, netnsx.ErrInvalid)
		require.Contains(t, err.Error(), "bridge")
	}
	view := iptest.Links(t, ns.Name())
	require.Empty(t, view["br0"].Master)
	require.Empty(t, view["br1"].Master)
	require.Empty(t, view["p1"].Master, "nothing attached when one port is refused")
}
