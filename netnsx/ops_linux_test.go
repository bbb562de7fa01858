package netnsx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/failpoint"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// The calls that change links and routes in place, each checked against ip's view.

// joined makes two namespaces whose eth0 ends are a veth pair, up; addresses as given.
func joined(t *testing.T, ipv4Only bool, addrA, addrB string) (a, b *netnsx.NS, p *veth.Pair) {
	t.Helper()
	mk := netnsxtest.New
	if ipv4Only {
		mk = netnsxtest.NewIPv4Only
	}
	a, b = mk(t), mk(t)
	endA, endB := veth.End{NS: a, Name: "eth0"}, veth.End{NS: b, Name: "eth0"}
	if addrA != "" {
		endA.Addrs = []netip.Prefix{netip.MustParsePrefix(addrA)}
	}
	if addrB != "" {
		endB.Addrs = []netip.Prefix{netip.MustParsePrefix(addrB)}
	}
	p, err := veth.Create(veth.Config{A: endA, B: endB})
	require.NoError(t, err)
	return a, b, p
}

// ipAddrs is what `ip -j addr show dev` lists on a link, as prefixes.
func ipAddrs(t *testing.T, ns, dev string) []string {
	t.Helper()
	var out []string
	for _, a := range iptest.Links(t, ns)[dev].AddrInfo {
		out = append(out, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
	}
	return out
}

func TestIntegrationRemoveAddr(t *testing.T) {
	a, _, p := joined(t, false, "10.31.0.1/24", "")
	l := p.A
	for _, s := range []string{"10.31.1.1/24", "fd31::1/64"} {
		require.NoError(t, l.AddAddr(netip.MustParsePrefix(s)))
	}
	require.NoError(t, l.RemoveAddr(netip.MustParsePrefix("10.31.0.1/24")))
	require.NoError(t, l.RemoveAddr(netip.MustParsePrefix("fd31::1/64")))
	got := ipAddrs(t, a.Name(), "eth0")
	require.Contains(t, got, "10.31.1.1/24")
	require.NotContains(t, got, "10.31.0.1/24")
	require.NotContains(t, got, "fd31::1/64")
	mine, err := l.Addrs()
	require.NoError(t, err)
	require.ElementsMatch(t, got, addrSet(mine), "Addrs agrees with ip")

	for _, s := range []string{"10.31.0.1/24", "10.31.1.1/16", "fd31::1/64", "10.31.9.9/24"} {
		err := l.RemoveAddr(netip.MustParsePrefix(s))
		require.ErrorIs(t, err, netnsx.ErrNotFound, s)
		require.ErrorIs(t, err, unix.EADDRNOTAVAIL, s)
	}
	require.Contains(t, ipAddrs(t, a.Name(), "eth0"), "10.31.1.1/24", "a wrong prefix length removed nothing")
}

func TestIntegrationSetName(t *testing.T) {
	a, _, p := joined(t, false, "10.32.0.1/24", "")
	l := p.A
	index := l.Index()
	err := l.SetName("uplink0")
	if errors.Is(err, unix.EBUSY) { // a kernel that renames only links that are down
		require.ErrorIs(t, err, netnsx.ErrInvalid)
		require.NoError(t, l.Down())
		err = l.SetName("uplink0")
	}
	require.NoError(t, err)
	require.Equal(t, "uplink0", l.Name())
	require.Equal(t, index, l.Index())
	links := iptest.Links(t, a.Name())
	require.Contains(t, links, "uplink0")
	require.NotContains(t, links, "eth0")
	require.Equal(t, index, links["uplink0"].Ifindex)
	again, err := a.Link("uplink0")
	require.NoError(t, err)
	require.Equal(t, index, again.Index())

	err = l.SetName("lo")
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Equal(t, "uplink0", l.Name(), "a refused rename leaves the name")
	require.Contains(t, iptest.Links(t, a.Name()), "uplink0")
	require.NoError(t, l.SetName("uplink0"), "its own name again changes nothing")
}

func TestIntegrationSetHardwareAddr(t *testing.T) {
	a, _, p := joined(t, false, "", "")
	mac := net.HardwareAddr{0x02, 0x33, 0, 0xaa, 0xbb, 0xcc}
	require.NoError(t, p.A.SetHardwareAddr(mac))
	require.Equal(t, mac.String(), iptest.Links(t, a.Name())["eth0"].Address)
	got, err := p.A.HardwareAddr()
	require.NoError(t, err)
	require.Equal(t, mac, got)
}

func TestIntegrationSetNS(t *testing.T) {
	a, b, p := joined(t, false, "10.34.0.1/24", "10.34.0.2/24")
	c := netnsxtest.New(t)
	l := p.A
	br, err := bridge.Create(a, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	require.NoError(t, l.SetMaster(br.Link))

	// b has an eth0 (the other end): refused, and the link stays in a.
	err = l.SetNS(b)
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.Same(t, a, l.NS())
	require.Contains(t, iptest.Links(t, a.Name()), "eth0")

	require.NoError(t, l.SetNS(a), "to where it is: nothing changes")
	require.Same(t, a, l.NS())

	// Its index is taken in c, so the kernel gives it another there.
	old := l.Index()
	iptest.Run(t, nil, "ip", "-n", c.Name(), "link", "add", "name", "taken", "index", fmt.Sprint(old), "type", "bridge")
	require.NoError(t, l.SetNS(c))
	require.Same(t, c, l.NS())
	require.NotEqual(t, old, l.Index())
	require.NotContains(t, iptest.Links(t, a.Name()), "eth0")
	inC := iptest.Links(t, c.Name())["eth0"]
	require.Equal(t, inC.Ifindex, l.Index(), "Index is the one it has in c")
	require.NotContains(t, inC.Flags, "UP", "moved links arrive down")
	require.Empty(t, inC.Master, "and out of their bridge")
	require.Empty(t, ipAddrs(t, c.Name(), "eth0"), "addresses do not follow")

	// The *Link works where it is now: up, addressed, and its peer in b reachable.
	require.NoError(t, l.AddAddr(netip.MustParsePrefix("10.34.0.3/24")))
	require.NoError(t, l.Up())
	require.NoError(t, l.WaitReady(context.Background()))
	require.Contains(t, iptest.Links(t, c.Name())["eth0"].Flags, "UP")
	netnsxtest.RequireReachable(t, c, netip.MustParseAddr("10.34.0.2"))

	// lo clashes with the target's own; a bridge cannot move ("netns is immutable").
	lo, err := a.Link("lo")
	require.NoError(t, err)
	require.ErrorIs(t, lo.SetNS(c), netnsx.ErrExists)
	require.ErrorIs(t, br.SetNS(c), netnsx.ErrInvalid)
	require.Contains(t, iptest.Links(t, a.Name()), "br0")
}

// SetNS is all or nothing: whichever of its requests fails, the link is where it was
// and the *Link still names it.
func TestIntegrationSetNSAllOrNothing(t *testing.T) {
	a, _, p := joined(t, false, "", "")
	c := netnsxtest.New(t)
	l := p.A
	for n := 1; ; n++ {
		fired, restore := failpoint.FailNth(n, unix.ENOBUFS)
		err := l.SetNS(c)
		restore()
		if !fired() {
			require.NoError(t, err)
			break
		}
		require.Error(t, err, "step %d", n)
		require.Same(t, a, l.NS(), "step %d", n)
		inA := iptest.Links(t, a.Name())["eth0"]
		require.Equal(t, inA.Ifindex, l.Index(), "step %d: Index names it in a", n)
		require.NotContains(t, iptest.Links(t, c.Name()), "eth0", "step %d", n)
	}
	require.Contains(t, iptest.Links(t, c.Name()), "eth0")
}

func TestIntegrationNoMaster(t *testing.T) {
	a, _, p := joined(t, false, "", "")
	br, err := bridge.Create(a, bridge.Config{Name: "br0"})
	require.NoError(t, err)
	require.NoError(t, p.A.SetMaster(br.Link))
	require.Equal(t, "br0", iptest.Links(t, a.Name())["eth0"].Master)
	require.NoError(t, p.A.NoMaster())
	require.Empty(t, iptest.Links(t, a.Name())["eth0"].Master)
	require.NoError(t, p.A.NoMaster(), "no master: nothing to do")
	require.NoError(t, p.A.SetMaster(br.Link))
	require.NoError(t, p.A.SetMaster(nil), "SetMaster(nil) is nomaster too")
	require.Empty(t, iptest.Links(t, a.Name())["eth0"].Master)
}

// ipStats is `ip -s -j link show dev` of one link.
type ipStats struct {
	Stats64 struct {
		RX struct{ Bytes, Packets, Errors, Dropped, Multicast uint64 }
		TX struct{ Bytes, Packets, Errors, Dropped uint64 }
	}
}

func statsFromIP(t *testing.T, ns, dev string) netnsx.LinkStats {
	t.Helper()
	var out []ipStats
	iptest.Run(t, &out, "ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev)
	require.Len(t, out, 1)
	s := out[0].Stats64
	return netnsx.LinkStats{
		RxPackets: s.RX.Packets, TxPackets: s.TX.Packets, RxBytes: s.RX.Bytes, TxBytes: s.TX.Bytes,
		RxErrors: s.RX.Errors, TxErrors: s.TX.Errors, RxDropped: s.RX.Dropped, TxDropped: s.TX.Dropped,
		Multicast: s.RX.Multicast,
	}
}

// counters lists a LinkStats' fields by name, for comparing them one by one.
func counters(s netnsx.LinkStats) map[string]uint64 {
	return map[string]uint64{
		"RxPackets": s.RxPackets, "TxPackets": s.TxPackets, "RxBytes": s.RxBytes, "TxBytes": s.TxBytes,
		"RxErrors": s.RxErrors, "TxErrors": s.TxErrors, "RxDropped": s.RxDropped, "TxDropped": s.TxDropped,
		"Multicast": s.Multicast,
	}
}

func TestIntegrationStats(t *testing.T) {
	a, b, p := joined(t, true, "10.35.0.1/24", "10.35.0.2/24")
	ctx := context.Background()
	pc, err := b.ListenPacket(ctx, "udp", "10.35.0.2:9")
	require.NoError(t, err)
	defer pc.Close()
	before, err := p.A.Stats()
	require.NoError(t, err)

	// One way, so that rx and tx differ: n datagrams of size bytes from a to b.
	const n, size = 20, 1000
	c, err := a.Dial(ctx, "udp", "10.35.0.2:9")
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 2000)
	for range n {
		_, err := c.Write(buf[:size])
		require.NoError(t, err)
	}
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(10*time.Second)))
	for range n {
		_, _, err := pc.ReadFrom(buf)
		require.NoError(t, err)
	}

	// Counters only grow: ip's reading lies between two of ours.
	first, err := p.A.Stats()
	require.NoError(t, err)
	fromIP := statsFromIP(t, a.Name(), "eth0")
	last, err := p.A.Stats()
	require.NoError(t, err)
	lo, ip, hi := counters(first), counters(fromIP), counters(last)
	for k := range ip {
		require.LessOrEqual(t, lo[k], ip[k], k)
		require.LessOrEqual(t, ip[k], hi[k], k)
	}
	require.GreaterOrEqual(t, first.TxPackets-before.TxPackets, uint64(n), "the datagrams went out")
	require.GreaterOrEqual(t, first.TxBytes-before.TxBytes, uint64(n*size), "with their bytes")
	require.Less(t, first.RxPackets-before.RxPackets, uint64(n), "little came back: an ARP reply")
	require.Less(t, first.RxBytes-before.RxBytes, uint64(size), "little came back: an ARP reply")

	peer, err := p.B.Stats()
	require.NoError(t, err)
	require.GreaterOrEqual(t, peer.RxPackets, uint64(n), "b's end received them")
	require.Zero(t, peer.RxDropped+peer.TxDropped+peer.RxErrors+peer.TxErrors)
}

// ipRoutes lists `ip -j route show table N` (family "4" or "6") as "dst gw dev metric".
func ipRoutes(t *testing.T, ns, family string, table int) []string {
	t.Helper()
	var rs []struct {
		Dst, Gateway, Dev string
		Metric            int
	}
	iptest.Run(t, &rs, "ip", "-n", ns, "-"+family, "-j", "route", "show", "table", fmt.Sprint(table))
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s %s %d", r.Dst, r.Gateway, r.Dev, r.Metric))
	}
	slices.Sort(out)
	return out
}

// mine lists routes as ipRoutes does, of one family.
func mine(rs []netnsx.Route, v4 bool) []string {
	var out []string
	for _, r := range rs {
		if r.Dst.Addr().Is4() != v4 {
			continue
		}
		dst, gw := r.Dst.String(), ""
		if r.Dst.Bits() == 0 {
			dst = "default"
		}
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		out = append(out, fmt.Sprintf("%s %s %s %d", dst, gw, r.Dev, r.Metric))
	}
	slices.Sort(out)
	return out
}

func TestIntegrationRouteTables(t *testing.T) {
	a, _, _ := joined(t, false, "10.36.0.1/24", "10.36.0.2/24")
	pf, ad := netip.MustParsePrefix, netip.MustParseAddr
	l, err := a.Link("eth0")
	require.NoError(t, err)
	require.NoError(t, l.AddAddr(pf("fd36::1/64")))
	tables := []int{100, 1000}
	if past32 > 0 {
		tables = append(tables, past32-1) // the last table there is
	}
	for _, table := range tables {
		r := netnsx.Route{Dst: pf("10.37.0.0/16"), Gateway: ad("10.36.0.2"), Table: table, Metric: 7}
		require.NoError(t, a.AddRoute(r))
		require.ErrorIs(t, a.AddRoute(r), netnsx.ErrExists)
		require.NoError(t, a.AddRoute(netnsx.Route{Gateway: ad("fd36::2"), Table: table}))
		require.Equal(t, []string{"10.37.0.0/16 10.36.0.2 eth0 7"}, ipRoutes(t, a.Name(), "4", table))
		got, err := a.RoutesIn(table)
		require.NoError(t, err)
		require.Equal(t, ipRoutes(t, a.Name(), "4", table), mine(got, true), "table %d", table)
		require.Equal(t, ipRoutes(t, a.Name(), "6", table), mine(got, false), "table %d", table)
		for _, r := range got {
			require.Equal(t, table, r.Table)
		}

		// Replace moves the destination to another gateway: still one route.
		r.Gateway = ad("10.36.0.3")
		require.NoError(t, a.ReplaceRoute(r))
		require.Equal(t, []string{"10.37.0.0/16 10.36.0.3 eth0 7"}, ipRoutes(t, a.Name(), "4", table))

		// Every route read back deletes as it is, IPv6's metric 1024 included.
		got, err = a.RoutesIn(table)
		require.NoError(t, err)
		for _, r := range got {
			require.NoError(t, a.DeleteRoute(r), "%+v", r)
			require.ErrorIs(t, a.DeleteRoute(r), netnsx.ErrNotFound, "%+v", r)
		}
		require.Empty(t, ipRoutes(t, a.Name(), "4", table))
		require.Empty(t, ipRoutes(t, a.Name(), "6", table))
	}
	// None of that touched main; main is read back as Table 0.
	main, err := a.Routes()
	require.NoError(t, err)
	require.Equal(t, ipRoutes(t, a.Name(), "4", 254), mine(main, true))
	require.Equal(t, ipRoutes(t, a.Name(), "6", 254), mine(main, false))
	for _, r := range main {
		require.Zero(t, r.Table)
		require.NotEqual(t, "10.37.0.0/16", r.Dst.String())
	}

	// Metrics in main: two routes to one destination, the lower preferred.
	require.NoError(t, a.AddRoute(netnsx.Route{Dst: pf("10.38.0.0/16"), Gateway: ad("10.36.0.2"), Metric: 10}))
	require.NoError(t, a.AddRoute(netnsx.Route{Dst: pf("10.38.0.0/16"), Gateway: ad("10.36.0.3"), Metric: 20}))
	require.Contains(t, ipRoutes(t, a.Name(), "4", 254), "10.38.0.0/16 10.36.0.2 eth0 10")
	require.Contains(t, ipRoutes(t, a.Name(), "4", 254), "10.38.0.0/16 10.36.0.3 eth0 20")
	require.NoError(t, a.DeleteRoute(netnsx.Route{Dst: pf("10.38.0.0/16"), Dev: "eth0", Metric: 20}))
	require.Contains(t, ipRoutes(t, a.Name(), "4", 254), "10.38.0.0/16 10.36.0.2 eth0 10")
	require.NotContains(t, ipRoutes(t, a.Name(), "4", 254), "10.38.0.0/16 10.36.0.3 eth0 20")
	require.ErrorIs(t, a.ReplaceRoute(netnsx.Route{Dst: pf("10.39.0.0/16"), Dev: "nosuch0"}), netnsx.ErrNotFound)

	// Inspect shows main only, as Routes does.
	snap, err := netnsx.Inspect(a)
	require.NoError(t, err)
	main, err = a.Routes()
	require.NoError(t, err)
	require.Equal(t, mine(main, true), mine(snap.Namespaces[0].Routes, true))
	require.Equal(t, mine(main, false), mine(snap.Namespaces[0].Routes, false))
}

func TestIntegrationOutput(t *testing.T) {
	a, _, _ := joined(t, false, "10.40.0.1/24", "")
	ctx := context.Background()
	out, err := a.Output(ctx, iptest.Tool("ip"), "-br", "addr", "show", "dev", "eth0")
	require.NoError(t, err)
	require.Contains(t, string(out), "10.40.0.1/24", "it ran inside a")

	out, err = a.Output(ctx, "sh", "-c", "echo partial; echo oops >&2; exit 3")
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.ExitCode())
	require.Equal(t, "oops\n", string(ee.Stderr))
	require.Contains(t, err.Error(), `"oops"`)
	require.Equal(t, "partial\n", string(out))

	// stderr is bounded in the error.
	_, err = a.Output(ctx, "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1")
	require.ErrorAs(t, err, &ee)
	require.Less(t, len(err.Error()), 4096+200)
	require.True(t, strings.HasSuffix(err.Error(), `[...]"`), err.Error())

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = a.Output(short, "sleep", "60")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorAs(t, err, &ee)

	_, err = a.Output(ctx, "no-such-program-nstopo")
	require.ErrorIs(t, err, netnsx.ErrNotFound)
	require.ErrorIs(t, err, exec.ErrNotFound)
}

// link joins a and b with a veth pair named as given, addressed and up.
func link(t *testing.T, a *netnsx.NS, aName, aAddr string, b *netnsx.NS, bName, bAddr string) *veth.Pair {
	t.Helper()
	p, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: aName, Addrs: []netip.Prefix{netip.MustParsePrefix(aAddr)}},
		B: veth.End{NS: b, Name: bName, Addrs: []netip.Prefix{netip.MustParsePrefix(bAddr)}},
	})
	require.NoError(t, err)
	return p
}

// Two routers between h1 and h2, one subnet on each side of each: h1 reaches h2's
// service address through r1 until ReplaceRoute sends it through r2, and the routers'
// counters say which one carried the traffic.
func TestIntegrationRouterReplaceRoute(t *testing.T) {
	h1, h2 := netnsxtest.NewIPv4Only(t, "h1"), netnsxtest.NewIPv4Only(t, "h2")
	r1, r2 := netnsxtest.NewIPv4Only(t, "r1"), netnsxtest.NewIPv4Only(t, "r2")
	via1 := link(t, h1, "eth0", "10.41.1.2/24", r1, "west", "10.41.1.1/24")
	link(t, r1, "east", "10.41.2.1/24", h2, "eth0", "10.41.2.2/24")
	via2 := link(t, h1, "eth1", "10.41.3.2/24", r2, "west", "10.41.3.1/24")
	link(t, r2, "east", "10.41.4.1/24", h2, "eth1", "10.41.4.2/24")
	lo, err := h2.Link("lo")
	require.NoError(t, err)
	require.NoError(t, lo.AddAddr(netip.MustParsePrefix("10.41.9.1/32")))

	pf, ad := netip.MustParsePrefix, netip.MustParseAddr
	service := ad("10.41.9.1")
	for _, step := range []struct {
		ns *netnsx.NS
		r  netnsx.Route
	}{
		{r1, netnsx.Route{Dst: pf("10.41.9.0/24"), Gateway: ad("10.41.2.2")}},
		{r2, netnsx.Route{Dst: pf("10.41.9.0/24"), Gateway: ad("10.41.4.2")}},
		{h2, netnsx.Route{Dst: pf("10.41.1.0/24"), Gateway: ad("10.41.2.1")}},
		{h2, netnsx.Route{Dst: pf("10.41.3.0/24"), Gateway: ad("10.41.4.1")}},
		{h1, netnsx.Route{Dst: pf("10.41.9.0/24"), Gateway: ad("10.41.1.1")}},
	} {
		require.NoError(t, step.ns.AddRoute(step.r))
	}
	ctx := context.Background()
	ping := func() error {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := h1.Ping(c, service)
		return err
	}
	require.Error(t, ping(), "no forwarding yet: r1 drops it")
	for _, r := range []*netnsx.NS{r1, r2} {
		require.NoError(t, r.SetSysctl("net.ipv4.ip_forward", "1"))
	}
	netnsxtest.RequireReachable(t, h1, service)

	const n = 5
	forwarded := func(p *veth.Pair) uint64 { // what the router's west end received
		st, err := p.B.Stats()
		require.NoError(t, err)
		return st.RxPackets
	}
	send := func() {
		st, err := h1.PingStats(ctx, service, n, 10*time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, n, st.Received)
	}
	before1, before2 := forwarded(via1), forwarded(via2)
	send()
	require.GreaterOrEqual(t, forwarded(via1)-before1, uint64(n), "through r1")
	// Less than n, not zero: a late ARP probe may cross a link the pings no longer use.
	require.Less(t, forwarded(via2)-before2, uint64(n), "not through r2")

	require.NoError(t, h1.ReplaceRoute(netnsx.Route{Dst: pf("10.41.9.0/24"), Gateway: ad("10.41.3.1")}))
	require.Equal(t, []string{"10.41.9.0/24 10.41.3.1 eth1 0"},
		slices.DeleteFunc(ipRoutes(t, h1.Name(), "4", 254), func(s string) bool { return !strings.HasPrefix(s, "10.41.9.") }))
	before1, before2 = forwarded(via1), forwarded(via2)
	send()
	require.Less(t, forwarded(via1)-before1, uint64(n), "not through r1 any more")
	require.GreaterOrEqual(t, forwarded(via2)-before2, uint64(n), "through r2")
}
