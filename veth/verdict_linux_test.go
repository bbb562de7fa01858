package veth_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// TestIntegrationCreateDeletedMaster: the kernel creates the pair, echoes it, then
// fails to enslave the first end to a bridge that is gone and removes the pair. Create
// must report that verdict, whichever end has the master.
func TestIntegrationCreateDeletedMaster(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	require.NoError(t, br.Delete())

	for _, cfg := range []veth.Config{
		{A: veth.End{NS: ns, Name: "p1", Master: br.Link}, B: veth.End{NS: ns, Name: "q1"}},
		{A: veth.End{NS: ns, Name: "p1"}, B: veth.End{NS: ns, Name: "q1", Master: br.Link}},
		{A: veth.End{NS: ns, Name: "p1", Master: br.Link}, B: veth.End{NS: ns, Name: "q1", Master: br.Link}},
	} {
		p, err := veth.Create(cfg)
		require.ErrorIs(t, err, unix.EINVAL)
		require.ErrorIs(t, err, netnsx.ErrInvalid)
		require.Nil(t, p)
		view := iptest.Links(t, ns.Name())
		require.NotContains(t, view, "p1")
		require.NotContains(t, view, "q1")
	}
}
