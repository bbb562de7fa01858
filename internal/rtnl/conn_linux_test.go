package rtnl_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/rtnl"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationVerdictAfterEcho: a link add sent with NLM_F_ECHO|NLM_F_ACK gets the
// echo of the new device first and the kernel's verdict after it. Here the verdict is a
// refusal (the master is gone), and the kernel removes the device again: the request
// must fail, and leave nothing unread on the socket.
func TestIntegrationVerdictAfterEcho(t *testing.T) {
	ns := netnsxtest.New(t)
	require.NoError(t, ns.Netlink(func(c *rtnl.Conn, _ int) error {
		br, err := c.LinkAdd(&rtnl.LinkSpec{Name: "br0", Kind: "bridge"})
		require.NoError(t, err)
		pending, err := rtnl.Pending(c)
		require.NoError(t, err)
		assert.False(t, pending, "a successful add leaves its ACK unread")
		require.NoError(t, c.LinkDel(br.Index))

		l, err := c.LinkAdd(&rtnl.LinkSpec{Name: "br1", Kind: "bridge", Master: br.Index})
		require.ErrorIs(t, err, unix.EINVAL, "the kernel refuses a master that is gone")
		require.Nil(t, l)
		pending, err = rtnl.Pending(c)
		require.NoError(t, err)
		assert.False(t, pending, "a refused add leaves its error unread")

		_, err = c.LinkByName("br1")
		require.ErrorIs(t, err, unix.ENODEV)
		pending, err = rtnl.Pending(c)
		require.NoError(t, err)
		assert.False(t, pending, "a get leaves its ACK unread")
		return nil
	}))
	require.NotContains(t, iptest.Links(t, ns.Name()), "br1")
	require.NotContains(t, iptest.Links(t, ns.Name()), "br0")
}
