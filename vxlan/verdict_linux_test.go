package vxlan_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/vxlan"
)

// TestIntegrationCreateDeletedMaster: the kernel creates the device, echoes it, then
// fails to enslave it to a bridge that is gone and removes it again. Create must report
// that verdict, not the echo.
func TestIntegrationCreateDeletedMaster(t *testing.T) {
	ns := netnsxtest.New(t)
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	require.NoError(t, br.Delete())

	dev, err := vxlan.Create(ns, vxlan.Config{Name: "vx0", VNI: 7, Master: br.Link})
	require.ErrorIs(t, err, unix.EINVAL)
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.Nil(t, dev)
	require.NotContains(t, iptest.Links(t, ns.Name()), "vx0")
	_, err = ns.Link("vx0")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
}
