package overlay

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/fault/faulttest"
	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/overlay/internal/etcdtest"
	"github.com/nstopo/nstopo/veth"
)

// The tests in this file run the agents against an external three-member etcd
// cluster (Debian's etcd-server) whose members sit on the underlay at etcdAddr, each
// host reaching it through its own namespace: a member can be killed, the cluster
// stopped, a host cut off with the fault package.
var etcdAddr = netip.MustParseAddr("10.0.0.254")

func newExternalCluster(t *testing.T) (*cluster, *etcdtest.Cluster) {
	underlay := netnsxtest.New(t, "underlay")
	sw, err := bridge.Create(underlay, bridge.Config{Name: "sw0"})
	require.NoError(t, err)
	etcdNS := netnsxtest.New(t, "etcd")
	_, err = veth.Create(veth.Config{
		A: veth.End{NS: underlay, Name: "port254", Master: sw.Link},
		B: veth.End{NS: etcdNS, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(etcdAddr, 24)}},
	})
	require.NoError(t, err)
	ec := etcdtest.Start(t, etcdNS, etcdAddr, 3)
	c := &cluster{t: t, etcd: ec.Client(t, etcdNS), prefix: "/test/" + netnsxtest.Name(0) + "/", sw: sw, log: &etcdtest.Buffer{},
		client: func(host *netnsx.NS) *clientv3.Client { return ec.Client(t, host) }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, CreateNetwork(ctx, c.etcd, c.prefix, Network{Name: "net1", VNI: 4096, Subnet: netip.MustParsePrefix("10.200.0.0/24")}))
	return c, ec
}

// joinToReachable attaches a container through a and returns how long after the
// attach request (which commits the endpoint's key) src first gets a TCP echo from it.
func (c *cluster) joinToReachable(a *Agent, name string, src *netnsx.NS) (*netnsx.NS, Endpoint, time.Duration) {
	t := c.t
	// An ARP request sent before the entry exists would wait the kernel's 1 s
	// retransmit time: the control plane, not that timer, is measured.
	require.NoError(t, src.SetSysctl("net.ipv4.neigh.eth0.retrans_time_ms", "10"))
	ns := netnsxtest.New(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	ep, err := a.Attach(ctx, AttachConfig{Network: "net1", Name: name, NS: ns})
	require.NoError(t, err)
	l, err := echo.Serve(ctx, ns, netip.AddrPortFrom(ep.IP, 8081).String())
	require.NoError(t, err)
	defer l.Close()
	for {
		dctx, dcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := echo.RoundTrip(dctx, src, netip.AddrPortFrom(ep.IP, 8081).String(), []byte("join\n"))
		dcancel()
		if err == nil {
			return ns, ep, time.Since(start)
		}
		require.NoError(t, ctx.Err(), "%s never answered: %v", name, err)
		time.Sleep(2 * time.Millisecond)
	}
}

// A member of three killed while agents run, the leader at that: the two others elect
// a new one, and hosts join and converge as before; no agent loses its lease.
func TestIntegrationExternalMemberKilled(t *testing.T) {
	c, ec := newExternalCluster(t)
	h1, a1 := c.host(1, 0)
	_, a2 := c.host(2, 0)
	c1, _ := c.attach(a1, "c1")
	_, e2 := c.attach(a2, "c2")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	_, _, d := c.joinToReachable(a2, "c3", c1)
	t.Logf("join to reachable with three members: %v", d)

	leader := ec.Leader(c.etcd)
	ec.Kill(leader)
	t.Logf("SIGKILLed the leader, member %s", ec.Members[leader].Name)
	ec.WaitHealthy(c.etcd)
	c4, e4, d := c.joinToReachable(a2, "c4", c1)
	t.Logf("join to reachable with two members left: %v", d)
	eventually(t, h1, true, entry(e4, "10.0.0.2"))
	netnsxtest.RequireTCP(t, c4, c1, "10.200.0.2:8081")
	require.NotContains(t, c.log.String(), "lease lost")
}

// The whole cluster stopped: the hosts keep forwarding what they know; when it is back
// the agents carry on with their leases, and a join converges again.
func TestIntegrationExternalClusterRestart(t *testing.T) {
	c, ec := newExternalCluster(t)
	h1, a1 := c.host(1, 10*time.Second)
	_, a2 := c.host(2, 10*time.Second)
	c1, _ := c.attach(a1, "c1")
	c2, e2 := c.attach(a2, "c2")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))

	for i := range ec.Members {
		ec.Stop(i)
	}
	down := time.Now()
	for time.Since(down) < 3*time.Second {
		netnsxtest.RequireTCP(t, c1, c2, e2.IP.String()+":8081")
		time.Sleep(500 * time.Millisecond)
	}
	for i := range ec.Members {
		ec.Restart(i)
	}
	ec.WaitHealthy(c.etcd)
	t.Logf("cluster down for %v, forwarding all along", time.Since(down).Round(time.Millisecond))
	_, e3, d := c.joinToReachable(a2, "c3", c1)
	t.Logf("join to reachable after the restart: %v", d)
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"), entry(e3, "10.0.0.2"))
	require.NotContains(t, c.log.String(), "lease lost")
}

// A host cut off from etcd by a packet filter (the underlay between hosts stays): its
// lease expires, the other hosts drop its entries; when the cut heals it registers
// again, with its endpoints, and is reachable again.
func TestIntegrationExternalHostCutOff(t *testing.T) {
	c, _ := newExternalCluster(t)
	h1, a1 := c.host(1, 2*time.Second)
	h2, a2 := c.host(2, 2*time.Second)
	c1, _ := c.attach(a1, "c1")
	c2, e2 := c.attach(a2, "c2")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	netnsxtest.RequireTCP(t, c1, c2, e2.IP.String()+":8081")

	cut := faulttest.Partition(t, h2, netip.MustParsePrefix("10.0.0.2/32"), netip.PrefixFrom(etcdAddr, 32))
	start := time.Now()
	eventually(t, h1, false, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	t.Logf("host2 cut off from etcd: its entries gone from host1 after %v (lease TTL 2 s)", time.Since(start).Round(time.Millisecond))
	require.NoError(t, cut.Remove())
	start = time.Now()
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	t.Logf("cut healed: host2 registered again and its entries back on host1 after %v", time.Since(start).Round(time.Millisecond))
	netnsxtest.RequireTCP(t, c1, c2, e2.IP.String()+":8081")
	require.Contains(t, c.log.String(), "lease lost")
}
