package netnsx_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/kind"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// bridgeAttrs is a bridge with any attributes: a kind made in place elsewhere (Target).
type bridgeAttrs netnsx.LinkAttrs

func (b bridgeAttrs) LinkSpec() (netnsx.LinkAttrs, kind.Info) {
	return netnsx.LinkAttrs(b), kind.Info{Kind: "bridge"}
}

// A link with a Target is made there under its name, in one request, and addressed
// there; nothing appears in the namespace AddLink was called on.
func TestIntegrationAddLinkTarget(t *testing.T) {
	ns, other := netnsxtest.New(t), netnsxtest.New(t)
	l, err := ns.AddLink(bridgeAttrs{Name: "lo0x", Target: other, Addrs: []netip.Prefix{netip.MustParsePrefix("10.4.0.1/24")}})
	require.NoError(t, err)
	require.Same(t, other, l.NS())
	require.NotContains(t, iptest.Links(t, ns.Name()), "lo0x")
	v := iptest.Links(t, other.Name())["lo0x"]
	require.Equal(t, l.Index(), v.Ifindex)
	require.Equal(t, "10.4.0.1", v.AddrInfo[0].Local)

	// A name taken in the target is the kernel's EEXIST. (Each later step failing is
	// macvlan's TestIntegrationCreateAllOrNothing.)
	_, err = ns.AddLink(bridgeAttrs{Name: "lo", Target: other})
	require.ErrorIs(t, err, netnsx.ErrExists)

	br, err := ns.AddLink(bridgeAttrs{Name: "br0"})
	require.NoError(t, err)
	closed, err := netnsx.Open(other.Name())
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	for name, a := range map[string]bridgeAttrs{
		"parent elsewhere":        {Name: "x0", Parent: l},
		"master not in target":    {Name: "x0", Target: other, Master: br},
		"pair with target":        {Name: "x0", Target: other, Peer: &netnsx.PeerAttrs{NS: ns, LinkAttrs: netnsx.LinkAttrs{Name: "x1"}}},
		"closed target":           {Name: "x0", Target: closed},
		"bad name, before target": {Name: "x/0", Target: other},
	} {
		_, err := ns.AddLink(a)
		require.ErrorIs(t, err, netnsx.ErrInvalid, name)
		require.NotContains(t, iptest.Links(t, ns.Name()), "x0", name)
		require.NotContains(t, iptest.Links(t, other.Name()), "x0", name)
	}
}
