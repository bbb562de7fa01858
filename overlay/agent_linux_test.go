package overlay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/overlay/internal/etcdtest"
	"github.com/nstopo/nstopo/veth"
)

// freeURL picks a free loopback port. Another process may take it before etcd does;
// that is rare, and the test then fails saying so.
func freeURL(t *testing.T) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// startEtcd runs a single-member etcd on loopback, its data in t.TempDir().
func startEtcd(t *testing.T) *clientv3.Client {
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, pu := freeURL(t), freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd did not start")
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{cu.String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// cluster is an underlay switch and the hosts plugged into it, sharing one etcd.
type cluster struct {
	t      *testing.T
	etcd   *clientv3.Client
	prefix string
	sw     *bridge.Bridge
	log    *etcdtest.Buffer
	// client is how a host's agent reaches etcd; nil: through etcd, from the test's
	// own namespace.
	client func(host *netnsx.NS) *clientv3.Client
}

func newCluster(t *testing.T) *cluster {
	underlay := netnsxtest.New(t, "underlay")
	sw, err := bridge.Create(underlay, bridge.Config{Name: "sw0"})
	require.NoError(t, err)
	c := &cluster{t: t, etcd: startEtcd(t), prefix: "/test/" + netnsxtest.Name(0) + "/", sw: sw, log: &etcdtest.Buffer{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, CreateNetwork(ctx, c.etcd, c.prefix, Network{Name: "net1", VNI: 4096, Subnet: netip.MustParsePrefix("10.200.0.0/24")}))
	return c
}

// host makes host i (10.0.0.i on the underlay) and starts its agent.
func (c *cluster) host(i int, ttl time.Duration) (*netnsx.NS, *Agent) {
	t := c.t
	ns := netnsxtest.New(t, fmt.Sprintf("host%d", i))
	vtep := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: c.sw.NS(), Name: fmt.Sprintf("port%d", i), Master: c.sw.Link},
		B: veth.End{NS: ns, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(vtep, 24)}},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := c.etcd
	if c.client != nil {
		cl = c.client(ns)
	}
	a, err := Start(ctx, Config{Client: cl, Prefix: c.prefix, Host: fmt.Sprintf("host%d", i), VTEP: vtep, NS: ns,
		Underlay: "eth0", TTL: ttl, Log: slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Close(ctx))
	})
	select {
	case <-a.Synced():
	case <-ctx.Done():
		t.Fatal("the agent did not read the store")
	}
	return ns, a
}

// attach makes a container namespace and attaches it to net1 through a.
func (c *cluster) attach(a *Agent, name string) (*netnsx.NS, Endpoint) {
	ns := netnsxtest.New(c.t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep, err := a.Attach(ctx, AttachConfig{Network: "net1", Name: name, NS: ns})
	require.NoError(c.t, err)
	return ns, ep
}

// fdb lists `bridge -j fdb show dev vx4096` in a host as "mac dst" for the device's
// own permanent entries.
func fdb(t *testing.T, host *netnsx.NS) []string {
	var fs []iptest.FDB
	iptest.Run(t, &fs, "ip", "netns", "exec", host.Name(), iptest.Tool("bridge"), "-j", "fdb", "show", "dev", "vx4096")
	var out []string
	for _, e := range fs {
		if e.Master == "" && e.State == "permanent" {
			out = append(out, e.MAC+" "+e.Dst)
		}
	}
	slices.Sort(out)
	return out
}

// eventually waits until host's device lists (or, with present false, no longer
// lists) each entry.
func eventually(t *testing.T, host *netnsx.NS, present bool, entries ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := fdb(t, host)
		ok := true
		for _, e := range entries {
			ok = ok && slices.Contains(got, e) == present
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want present=%v %q, have %q", host.Name(), present, entries, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func entry(ep Endpoint, vtep string) string { return ep.MAC.String() + " " + vtep }

func flood(vtep string) string { return "00:00:00:00:00:00 " + vtep }

func TestIntegrationAgents(t *testing.T) {
	c := newCluster(t)
	// Keys no agent can read: skipped and logged, not fatal.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.etcd.Put(ctx, c.prefix+"endpoints/net1/not-an-address", `{"host":"host9"}`)
	require.NoError(t, err)
	_, err = c.etcd.Put(ctx, c.prefix+"hosts/host8", `{"vtep":`)
	require.NoError(t, err)
	// Keys that parse but that the kernel would refuse, or that would loop: left out one
	// by one, never the whole set (which would stop every later change).
	_, err = c.etcd.Put(ctx, c.prefix+"endpoints/net1/224.0.0.5", `{"host":"host2","mac":"02:42:e0:00:00:05"}`)
	require.NoError(t, err)
	_, err = c.etcd.Put(ctx, c.prefix+"hosts/imposter", `{"vtep":"10.0.0.1"}`) // host1's own
	require.NoError(t, err)
	_, err = c.etcd.Put(ctx, c.prefix+"endpoints/net1/10.201.9.9", `{"host":"host2","mac":"02:42:0a:c9:09:09"}`)
	require.NoError(t, err)

	h1, a1 := c.host(1, 0)
	h2, a2 := c.host(2, 0)
	c1, e1 := c.attach(a1, "c1")
	c2, e2 := c.attach(a2, "c2")
	require.NotEqual(t, e1.IP, e2.IP)
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	eventually(t, h2, true, flood("10.0.0.1"), entry(e1, "10.0.0.1"))
	netnsxtest.RequireTCP(t, c1, c2, e2.IP.String()+":8081")
	netnsxtest.RequireTransfer(t, c2, c1, e1.IP.String()+":8081", 1<<20)
	require.Contains(t, c.log.String(), "key="+c.prefix+"endpoints/net1/not-an-address")
	require.Contains(t, c.log.String(), "key="+c.prefix+"hosts/host8")
	require.Contains(t, c.log.String(), "key="+c.prefix+"endpoints/net1/224.0.0.5")
	require.NotContains(t, fdb(t, h1), flood("10.0.0.1"), "host1 floods to itself")
	require.NotContains(t, fdb(t, h1), "02:42:0a:c9:09:09 10.0.0.2", "an address outside net1 programmed")
	require.NotContains(t, c.log.String(), "reconcile failed")

	// A late join: host3 and its container become reachable from the others.
	h3, a3 := c.host(3, 0)
	c3, e3 := c.attach(a3, "c3")
	eventually(t, h1, true, flood("10.0.0.3"), entry(e3, "10.0.0.3"))
	eventually(t, h3, true, flood("10.0.0.1"), flood("10.0.0.2"), entry(e1, "10.0.0.1"), entry(e2, "10.0.0.2"))
	netnsxtest.RequireTCP(t, c1, c3, e3.IP.String()+":8081")
	netnsxtest.RequireTCP(t, c3, c2, e2.IP.String()+":8081")

	// host3 leaves cleanly: its keys go at once, and with them its entries elsewhere.
	require.NoError(t, a3.Close(ctx))
	r, err := c.etcd.Get(ctx, c.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	require.NoError(t, err)
	for _, kv := range r.Kvs {
		require.NotContains(t, string(kv.Key), "host3")
		require.NotContains(t, string(kv.Key), e3.IP.String())
	}
	eventually(t, h1, false, flood("10.0.0.3"), entry(e3, "10.0.0.3"))
	eventually(t, h2, false, flood("10.0.0.3"), entry(e3, "10.0.0.3"))
}

// TestIntegrationCrashedHost: an agent that stops without cleaning up leaves its keys
// until its lease expires; then every other host drops its entries.
func TestIntegrationCrashedHost(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 2*time.Second)
	_, a2 := c.host(2, 2*time.Second)
	c.attach(a1, "c1")
	_, e2 := c.attach(a2, "c2")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	require.True(t, a2.stop(), "a crash: no revoke")
	start := time.Now()
	eventually(t, h1, false, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	t.Logf("host2's entries gone from host1 %v after its agent stopped (lease TTL 2 s)", time.Since(start).Round(time.Millisecond))
	require.Greater(t, time.Since(start), time.Second, "gone before the lease could expire")
}

// TestIntegrationConcurrentAllocate: attaches on two hosts at once never get one address.
func TestIntegrationConcurrentAllocate(t *testing.T) {
	c := newCluster(t)
	_, a1 := c.host(1, 0)
	_, a2 := c.host(2, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := a1.network(ctx, "net1")
	require.NoError(t, err)
	const each = 20
	var mu sync.Mutex
	var got []netip.Addr
	var wg sync.WaitGroup
	for _, a := range []*Agent{a1, a2} {
		for i := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ip, err := a.allocate(ctx, n, fmt.Sprintf("c%d", i), netip.Addr{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, ip)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	require.Len(t, got, 2*each)
	slices.SortFunc(got, netip.Addr.Compare)
	require.Len(t, slices.Compact(slices.Clone(got)), 2*each, "an address given twice: %v", got)
	r, err := c.etcd.Get(ctx, c.prefix+"endpoints/net1/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.EqualValues(t, 2*each, r.Count)
}

// TestIntegrationResyncAfterCompaction: changes made between the full read and the
// watch, then compacted away, cannot come through the watch; the agent sees the
// compaction, reads everything again and gets them.
func TestIntegrationResyncAfterCompaction(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var once sync.Once
	// Set before the agent starts, unset after it stops: cleanups run last-in first-out.
	t.Cleanup(func() { testHookBeforeWatch = nil })
	testHookBeforeWatch = func(rev int64) {
		once.Do(func() {
			// A host the agent has not read, and an endpoint behind it.
			// On the agent's goroutine: t.Error, not require, which would Goexit it.
			if _, err := c.etcd.Put(ctx, c.prefix+"hosts/host7", `{"vtep":"10.0.0.7"}`); err != nil {
				t.Error(err)
			}
			r, err := c.etcd.Put(ctx, c.prefix+"endpoints/net1/10.200.0.77", `{"host":"host7","mac":"02:42:0a:c8:00:4d","name":"c7"}`)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := c.etcd.Compact(ctx, r.Header.Revision); err != nil {
				t.Error(err)
			}
		})
	}
	h1, a1 := c.host(1, 0)
	c.attach(a1, "c1")
	eventually(t, h1, true, flood("10.0.0.7"), "02:42:0a:c8:00:4d 10.0.0.7")
	require.Contains(t, c.log.String(), "watch compacted")
}

// TestIntegrationLeaseLost: a host whose lease is gone while it runs (expired during a
// partition; here revoked by hand) registers again, with its endpoints, and the others
// get them back.
func TestIntegrationLeaseLost(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 0)
	_, a2 := c.host(2, 0)
	c1, _ := c.attach(a1, "c1")
	c2, e2 := c.attach(a2, "c2")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := clientv3.LeaseID(a2.lease.Load())
	_, err := c.etcd.Revoke(ctx, old)
	require.NoError(t, err)
	key := c.prefix + "endpoints/net1/" + e2.IP.String()
	require.Eventually(t, func() bool {
		r, err := c.etcd.Get(ctx, key)
		return err == nil && len(r.Kvs) == 1 && clientv3.LeaseID(r.Kvs[0].Lease) != old
	}, 15*time.Second, 50*time.Millisecond, "c2's endpoint is not back under a new lease")
	require.Contains(t, c.log.String(), "lease lost")
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
	netnsxtest.RequireTCP(t, c1, c2, e2.IP.String()+":8081")
}

// TestIntegrationRetryFailedReconcile: a reconcile the kernel refuses is tried again
// without waiting for the next event.
func TestIntegrationRetryFailedReconcile(t *testing.T) {
	c := newCluster(t)
	h1, a1 := c.host(1, 0)
	_, a2 := c.host(2, 0)
	c.attach(a1, "c1")
	var refusing atomic.Bool
	refusing.Store(true)
	// The kernel refuses every forwarding and neighbour change: a reconcile's requests.
	defer failpoint.Set(func(op failpoint.Op) error {
		if refusing.Load() && (op.Name == "RTM_NEWNEIGH" || op.Name == "RTM_DELNEIGH") {
			return errors.New("refused by the test")
		}
		return nil
	})()
	_, e2 := c.attach(a2, "c2") // the last event for a while
	require.Eventually(t, func() bool { return strings.Contains(c.log.String(), "refused by the test") }, 10*time.Second, 20*time.Millisecond)
	require.NotContains(t, fdb(t, h1), entry(e2, "10.0.0.2"))
	refusing.Store(false)
	eventually(t, h1, true, flood("10.0.0.2"), entry(e2, "10.0.0.2"))
}
