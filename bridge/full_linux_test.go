package bridge_test

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// maxPorts is BR_MAX_PORTS - 1: port number 0 is reserved, so a bridge takes 1023 ports.
const maxPorts = 1023

// fullBridge makes a bridge with maxPorts ports: veth pairs with both ends attached,
// made with rtnl directly and left down, because only the port numbers matter here and
// veth.Create would wait for each pair to carry traffic (seconds for a thousand).
func fullBridge(t *testing.T, ns *netnsx.NS) *bridge.Bridge {
	t.Helper()
	br, err := bridge.Create(ns, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	require.NoError(t, ns.Netlink(func(c *rtnl.Conn, _ int) error {
		for i := 0; i < maxPorts; i += 2 {
			spec := &rtnl.LinkSpec{Name: fmt.Sprintf("p%d", i), Kind: "veth", Master: br.Index(),
				Peer: &rtnl.LinkSpec{Name: fmt.Sprintf("p%d", i+1)}}
			l, err := c.LinkAdd(spec)
			if err != nil {
				return err
			}
			if i+1 < maxPorts {
				m := br.Index()
				if err := c.LinkSet(l.PeerIndex, rtnl.LinkChange{Master: &m}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	ports := 0
	for _, l := range iptest.Links(t, ns.Name()) {
		if l.Master == "br0" {
			ports++
		}
	}
	require.Equal(t, maxPorts, ports)
	return br
}

// TestIntegrationFullBridge: a bridge with every port number taken refuses one more
// (EXFULL), after the kernel has made and echoed the new device. Each constructor must
// report that, leave nothing behind, and ip must agree that the kernel refuses.
func TestIntegrationFullBridge(t *testing.T) {
	ns := netnsxtest.New(t)
	br := fullBridge(t, ns)

	out, err := exec.Command("ip", "-n", ns.Name(), "link", "add", "ipx", "master", "br0", "type", "veth", "peer", "name", "ipy").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "Exchange full", "ip: %s", out)

	for name, create := range map[string]func() (made bool, err error){
		"vxlan": func() (bool, error) {
			d, err := vxlan.Create(ns, vxlan.Config{Name: "x0", VNI: 7, Master: br.Link})
			return d != nil, err
		},
		"veth A": func() (bool, error) {
			p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "x0", Master: br.Link}, B: veth.End{NS: ns, Name: "x1"}})
			return p != nil, err
		},
		"veth B": func() (bool, error) {
			p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "x0"}, B: veth.End{NS: ns, Name: "x1", Master: br.Link}})
			return p != nil, err
		},
	} {
		made, err := create()
		assert.ErrorIs(t, err, unix.EXFULL, name)
		assert.False(t, made, name)
		view := iptest.Links(t, ns.Name())
		assert.NotContains(t, view, "x0", name)
		assert.NotContains(t, view, "x1", name)
		if t.Failed() {
			for _, n := range []string{"x0", "x1"} { // the next case needs the names
				if l, err := ns.Link(n); err == nil {
					_ = l.Delete()
				}
			}
		}
	}

	// The one free end left by fullBridge: attaching it is one port too many.
	free, err := ns.Link(fmt.Sprintf("p%d", maxPorts))
	require.NoError(t, err)
	err = br.Attach(free)
	require.ErrorIs(t, err, unix.EXFULL)
	require.Empty(t, iptest.Links(t, ns.Name())[free.Name()].Master)

	// One port number free: the first end takes it, the second is refused, and the
	// pair goes as a whole.
	released, err := ns.Link(fmt.Sprintf("p%d", maxPorts-2))
	require.NoError(t, err)
	require.NoError(t, released.SetMaster(nil))
	p, err := veth.Create(veth.Config{A: veth.End{NS: ns, Name: "x0", Master: br.Link}, B: veth.End{NS: ns, Name: "x1", Master: br.Link}})
	require.ErrorIs(t, err, unix.EXFULL)
	require.Nil(t, p)
	view := iptest.Links(t, ns.Name())
	require.NotContains(t, view, "x0")
	require.NotContains(t, view, "x1")
}
