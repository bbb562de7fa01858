package vxlan_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/vxlan"
)

// TestIntegrationRefusesMappedAddresses: an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// passes netip's IsMulticast and friends as its IPv4 form, but the kernel takes it as
// IPv6 (a Group ::ffff:239.1.1.1 becomes a unicast remote). Every address the package
// takes refuses it with ErrInvalid before any syscall.
func TestIntegrationRefusesMappedAddresses(t *testing.T) {
	ns := netnsxtest.New(t)
	_, err := vxlan.Create(ns, vxlan.Config{Name: "eth0", VNI: 1}) // an underlay to name
	require.NoError(t, err)

	restore := failpoint.Set(func(op failpoint.Op) error {
		t.Errorf("reached kernel call %s", op)
		return errors.New("stop")
	})
	for _, cfg := range []vxlan.Config{
		{Name: "vx1", VNI: 7, Underlay: "eth0", Group: addr("::ffff:239.1.1.1")},
		{Name: "vx1", VNI: 7, Local: addr("::ffff:10.0.0.1")},
		{Name: "vx1", VNI: 7, Underlay: "eth0", Local: addr("::ffff:10.0.0.1"), Group: addr("::ffff:239.1.1.1")},
	} {
		_, err := vxlan.Create(ns, cfg)
		require.ErrorIs(t, err, netnsx.ErrInvalid, "%+v", cfg)
		require.Contains(t, err.Error(), "IPv4-mapped")
	}
	restore()
	require.NotContains(t, iptest.Links(t, ns.Name()), "vx1")

	// Methods: a device whose namespace handle is closed fails with ErrClosed as soon as
	// a call reaches the namespace; a refusal without ErrClosed came first.
	other := netnsxtest.New(t)
	dev, err := vxlan.Create(other, vxlan.Config{Name: "vx0", VNI: 7, Local: addr("10.0.0.1")})
	require.NoError(t, err)
	require.NoError(t, other.Close())
	mapped := addr("::ffff:10.0.0.2")
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	for name, err := range map[string]error{
		"AddRemote":      dev.AddRemote(mapped),
		"RemoveRemote":   dev.RemoveRemote(mapped),
		"SetRemotes":     dev.SetRemotes([]netip.Addr{mapped}),
		"AddFDB":         dev.AddFDB(mac, mapped),
		"AddNeighbor":    dev.AddNeighbor(mapped, mac),
		"RemoveNeighbor": dev.Link.RemoveNeighbor(mapped),
		"AddRoute gw":    other.AddRoute(netnsx.Route{Dst: pfx("10.9.0.0/16"), Gateway: mapped}),
		"AddRoute dst":   other.AddRoute(netnsx.Route{Dst: pfx("::ffff:10.9.0.0/112"), Dev: "vx0"}),
	} {
		require.ErrorIs(t, err, netnsx.ErrInvalid, name)
		require.NotErrorIs(t, err, netnsx.ErrClosed, "%s reached the namespace: %v", name, err)
	}
}
