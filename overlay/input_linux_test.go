package overlay

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// linkNames lists a namespace's links as `ip -j` sees them.
func linkNames(t *testing.T, ns *netnsx.NS) []string {
	var names []string
	for name := range iptest.Links(t, ns.Name()) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Bad input is refused before anything is made: no key in etcd, no link anywhere.
func TestIntegrationAttachBadInput(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cns := netnsxtest.New(t, "c")
	hostLinks := linkNames(t, h1)
	for _, tc := range []struct {
		name string
		cfg  AttachConfig
		want error
	}{
		{"unknown network", AttachConfig{Network: "nope", Name: "x", NS: cns}, netnsx.ErrNotFound},
		{"network name with a slash", AttachConfig{Network: "net1/x", Name: "x", NS: cns}, netnsx.ErrInvalid},
		{"empty name", AttachConfig{Network: "net1", NS: cns}, netnsx.ErrInvalid},
		{"nil namespace", AttachConfig{Network: "net1", Name: "x"}, netnsx.ErrInvalid},
		{"address outside the subnet", AttachConfig{Network: "net1", Name: "x", NS: cns, IP: netip.MustParseAddr("10.201.0.5")}, netnsx.ErrInvalid},
		{"the network's address", AttachConfig{Network: "net1", Name: "x", NS: cns, IP: netip.MustParseAddr("10.200.0.0")}, netnsx.ErrInvalid},
		{"the gateway's address", AttachConfig{Network: "net1", Name: "x", NS: cns, IP: netip.MustParseAddr("10.200.0.1")}, netnsx.ErrInvalid},
		{"the broadcast address", AttachConfig{Network: "net1", Name: "x", NS: cns, IP: netip.MustParseAddr("10.200.0.255")}, netnsx.ErrInvalid},
		{"an IPv6 address", AttachConfig{Network: "net1", Name: "x", NS: cns, IP: netip.MustParseAddr("fd00::5")}, netnsx.ErrInvalid},
	} {
		_, err := a1.Attach(ctx, tc.cfg)
		require.ErrorIs(t, err, tc.want, tc.name)
		t.Logf("%s: %v", tc.name, err)
	}
	r, err := c.etcd.Get(ctx, c.prefix+"endpoints/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.Zero(t, r.Count, "an endpoint key was made")
	require.Equal(t, []string{"lo"}, linkNames(t, cns))
	require.Equal(t, hostLinks, linkNames(t, h1))

	// An address another endpoint has: ErrExists, and the second container gets nothing.
	ip := netip.MustParseAddr("10.200.0.9")
	ep, err := a1.Attach(ctx, AttachConfig{Network: "net1", Name: "first", NS: cns, IP: ip})
	require.NoError(t, err)
	require.Equal(t, ip, ep.IP)
	other := netnsxtest.New(t, "other")
	_, err = a1.Attach(ctx, AttachConfig{Network: "net1", Name: "second", NS: other, IP: ip})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Equal(t, []string{"lo"}, linkNames(t, other))

	// An address another host's endpoint has: ErrExists, and that host is unchanged.
	h2, a2 := c.host(2, 0)
	h2Links := linkNames(t, h2)
	_, err = a2.Attach(ctx, AttachConfig{Network: "net1", Name: "third", NS: other, IP: ip})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Equal(t, h2Links, linkNames(t, h2))

	// A closed agent attaches nothing.
	ctxc, cancelc := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelc()
	require.NoError(t, a2.Close(ctxc))
	require.NoError(t, a2.Close(ctxc), "a second Close")
	_, err = a2.Attach(ctx, AttachConfig{Network: "net1", Name: "fourth", NS: other})
	require.ErrorIs(t, err, netnsx.ErrClosed)
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.Equal(t, h2Links, linkNames(t, h2))

	// A VNI another network has, or a network again with other values: ErrExists, and
	// nothing recorded. The same network again is not an error.
	err = CreateNetwork(ctx, c.etcd, c.prefix, Network{Name: "net2", VNI: 4096, Subnet: netip.MustParsePrefix("10.201.0.0/24")})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorContains(t, err, "net1")
	r, err = c.etcd.Get(ctx, c.prefix+"networks/net2")
	require.NoError(t, err)
	require.Empty(t, r.Kvs)
	err = CreateNetwork(ctx, c.etcd, c.prefix, Network{Name: "net1", VNI: 4097, Subnet: netip.MustParsePrefix("10.200.0.0/24")})
	require.ErrorIs(t, err, netnsx.ErrExists)
	r, err = c.etcd.Get(ctx, c.prefix+"vnis/4097")
	require.NoError(t, err)
	require.Empty(t, r.Kvs)
	require.NoError(t, CreateNetwork(ctx, c.etcd, c.prefix, Network{Name: "net1", VNI: 4096, Subnet: netip.MustParsePrefix("10.200.0.0/24")}))
	for _, n := range []Network{
		{Name: "bad/name", VNI: 1, Subnet: netip.MustParsePrefix("10.202.0.0/24")},
		{Name: "n", VNI: 1 << 24, Subnet: netip.MustParsePrefix("10.202.0.0/24")},
		{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("10.202.0.1/24")},
		{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("fd00::/64")},
		{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("10.202.0.0/31")},
		{Name: "n", VNI: 0, Subnet: netip.MustParsePrefix("10.202.0.0/24")},
		{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("224.1.0.0/24")},
		{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("0.0.0.0/0")},
		{Name: "..", VNI: 1, Subnet: netip.MustParsePrefix("10.202.0.0/24")},
	} {
		require.ErrorIs(t, CreateNetwork(ctx, c.etcd, c.prefix, n), netnsx.ErrInvalid, "%+v", n)
	}
}

// Devices of the overlay's names that it did not make are not taken over: ErrExists,
// and the endpoint's key is rolled back.
func TestIntegrationForeignDevices(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	foreign, err := vxlan.Create(h1, vxlan.Config{Name: "vx4096", VNI: 1, Port: vxlan.IANAPort})
	require.NoError(t, err)
	cns := netnsxtest.New(t, "c")
	_, err = a1.Attach(ctx, AttachConfig{Network: "net1", Name: "x", NS: cns})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorContains(t, err, "vx4096 exists and is not this overlay's")
	r, err := c.etcd.Get(ctx, c.prefix+"endpoints/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.Zero(t, r.Count)
	require.Equal(t, []string{"lo"}, linkNames(t, cns))
	require.NoError(t, foreign.Delete())

	// A bridge of the overlay's name with a port of someone else's.
	br, err := bridge.Create(h1, bridge.Config{Name: "br4096"})
	require.NoError(t, err)
	_, err = veth.Create(veth.Config{A: veth.End{NS: h1, Name: "up0", Master: br.Link}, B: veth.End{NS: cns, Name: "peer0"}})
	require.NoError(t, err)
	_, err = a1.Attach(ctx, AttachConfig{Network: "net1", Name: "x", NS: cns})
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorContains(t, err, "port up0")
	require.NotContains(t, linkNames(t, h1), "vx4096")
}

// Detach deletes the endpoint's key and its veth; the other hosts drop it; detaching
// it again, or an endpoint this agent does not have, is ErrNotFound.
func TestIntegrationDetach(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 0)
	h2, a2 := c.host(2, 0)
	c1, e1 := c.attach(a1, "c1")
	_, e2 := c.attach(a2, "c2")
	eventually(t, h2, true, entry(e1, "10.0.0.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.ErrorIs(t, a1.Detach(ctx, e2), netnsx.ErrNotFound, "host2's endpoint through host1")
	require.ErrorIs(t, a1.Detach(ctx, Endpoint{Network: "net1", IP: netip.MustParseAddr("fd00::1")}), netnsx.ErrInvalid)

	require.NoError(t, a1.Detach(ctx, e1))
	r, err := c.etcd.Get(ctx, c.prefix+"endpoints/net1/"+e1.IP.String())
	require.NoError(t, err)
	require.Empty(t, r.Kvs)
	require.NotContains(t, linkNames(t, h1), hostEnd(e1.IP))
	require.Equal(t, []string{"lo"}, linkNames(t, c1))
	eventually(t, h2, false, entry(e1, "10.0.0.1"))
	require.ErrorIs(t, a1.Detach(ctx, e1), netnsx.ErrNotFound)

	// The address is free again.
	_, again := c.attach(a1, "c3")
	require.Equal(t, e1.IP, again.IP)
}

// An etcd that does not answer: Start and CreateNetwork fail within the caller's
// deadline, saying which etcd, and leave nothing behind.
func TestIntegrationUnreachableEtcd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cl.Close()
	ns := netnsxtest.New(t, "host")

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = Start(ctx, Config{Client: cl, Host: "h1", VTEP: netip.MustParseAddr("10.0.0.1"), NS: ns})
	took := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "etcd at "+url+" did not answer")
	require.Less(t, took, 3*time.Second)
	t.Logf("%v after %v", err, took.Round(time.Millisecond))

	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	err = CreateNetwork(ctx2, cl, "", Network{Name: "n", VNI: 1, Subnet: netip.MustParsePrefix("10.202.0.0/24")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "did not answer")
	require.Equal(t, []string{"lo"}, linkNames(t, ns))
}
