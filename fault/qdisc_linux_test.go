package fault_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/fault/faulttest"
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
)

type tcQdisc struct {
	Kind       string `json:"kind"`
	Handle     string `json:"handle"`
	Root       bool   `json:"root"`
	Bytes      uint64 `json:"bytes"`      // with -s
	Overlimits uint64 `json:"overlimits"` // with -s: packets the bucket held back
	Options    struct {
		Rate  uint64 `json:"rate"` // bytes per second
		Burst uint64 `json:"burst"`
	} `json:"options"`
}

// rootQdisc is `tc -j qdisc show dev D` inside ns: the root's kind and options.
func rootQdisc(t *testing.T, ns *netnsx.NS, dev string) tcQdisc {
	t.Helper()
	var qs []tcQdisc
	iptest.Run(t, &qs, "tc", "-n", ns.Name(), "-s", "-j", "qdisc", "show", "dev", dev)
	for _, q := range qs {
		if q.Root {
			return q
		}
	}
	t.Fatalf("tc shows no root qdisc on %s in %s: %+v", dev, ns, qs)
	return tcQdisc{}
}

// transfer sends size bytes from the client to a sink in the server and returns the
// rate it measured, in bits per second.
func transfer(t testing.TB, tp topo, size int) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := tp.server.Listen(ctx, "tcp", net.JoinHostPort(serverAddr.Addr().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	done := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- -1
			return
		}
		defer func() { _ = c.Close() }()
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	c, err := tp.client.Dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	n := <-done
	elapsed := time.Since(start)
	if n != int64(size) {
		t.Fatalf("the sink got %d of %d bytes", n, size)
	}
	return float64(size) * 8 / elapsed.Seconds()
}

// A tbf on the client's end holds what it sends to the rate: tc shows it with that
// rate and counts the packets it held back, a transfer's measured rate is logged
// against the limit, and Remove restores the default qdisc.
func TestIntegrationLimitRate(t *testing.T) {
	tp := newTopo(t)
	before := rootQdisc(t, tp.client, "eth0")
	const rate = 8_000_000 // 8 Mbit/s, 1 MB/s
	q, err := fault.LimitRate(tp.clientEth, fault.RateLimit{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Remove() }()
	got := rootQdisc(t, tp.client, "eth0")
	if got.Kind != "tbf" || got.Options.Rate != rate/8 {
		t.Fatalf("tc shows root %+v, want tbf at %d bytes/s", got, rate/8)
	}
	measured := transfer(t, tp, 2<<20)
	t.Logf("2 MiB through tbf at %.1f Mbit/s: measured %.2f Mbit/s (%.0f%% of the limit)",
		rate/1e6, measured/1e6, 100*measured/rate)
	// Not a timed assertion: the kernel's own count of packets the bucket held back.
	if st := rootQdisc(t, tp.client, "eth0"); st.Kind != "tbf" || st.Bytes < 2<<20 || st.Overlimits == 0 {
		t.Errorf("tc -s shows %+v: want tbf having sent the 2 MiB and held some back", st)
	}
	if err := q.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if after := rootQdisc(t, tp.client, "eth0"); after.Kind != before.Kind {
		t.Errorf("after Remove the root is %q, want the default %q back", after.Kind, before.Kind)
	}
	t.Logf("without the limit: %.0f Mbit/s", transfer(t, tp, 8<<20)/1e6)
}

// A root someone else installed is theirs: LimitRate refuses to replace it, and their
// qdisc stays.
func TestIntegrationLimitRateRefusesForeignRoot(t *testing.T) {
	tp := newTopo(t)
	faulttest.LimitRate(t, tp.clientEth, 1_000_000)
	_, err := fault.LimitRate(tp.clientEth, fault.RateLimit{Rate: 2_000_000})
	if !errors.Is(err, netnsx.ErrExists) {
		t.Fatalf("second LimitRate: %v, want ErrExists", err)
	}
	if got := rootQdisc(t, tp.client, "eth0"); got.Options.Rate != 1_000_000/8 {
		t.Errorf("the first limit changed: %+v", got)
	}
}

// This kernel has no sch_netem: Emulate says so, naming the module, and leaves the
// default qdisc. Where the kernel has it, tc shows netem until Remove.
func TestIntegrationEmulate(t *testing.T) {
	tp := newTopo(t)
	before := rootQdisc(t, tp.client, "eth0")
	q, err := fault.Emulate(tp.clientEth, fault.Netem{Delay: 20 * time.Millisecond})
	if err == nil {
		defer func() { _ = q.Remove() }()
		if got := rootQdisc(t, tp.client, "eth0"); got.Kind != "netem" {
			t.Fatalf("Emulate succeeded but tc shows %+v", got)
		}
		if err := q.Remove(); err != nil {
			t.Fatal(err)
		}
		t.Skip("this kernel has sch_netem; the ErrNotSupported path needs one without")
	}
	if !errors.Is(err, netnsx.ErrNotSupported) || !strings.Contains(err.Error(), "sch_netem") {
		t.Fatalf("Emulate without sch_netem: %v, want ErrNotSupported naming sch_netem", err)
	}
	t.Log(err)
	if after := rootQdisc(t, tp.client, "eth0"); after.Kind != before.Kind {
		t.Errorf("after a refused Emulate the root is %q, want %q", after.Kind, before.Kind)
	}
}

// After Flap returns, both ends of the veth carry traffic at once: the first datagram
// each way arrives (the far end's queueing, detached when it lost its carrier, is back),
// ip says both are UP, and a dial gets through.
func TestIntegrationFlap(t *testing.T) {
	tp := newTopo(t)
	addr := tp.serve(t, "8083")
	ctx := context.Background()
	// Sockets first, so that the datagrams leave the moment Flap returns.
	type path struct {
		name string
		pc   net.PacketConn
		c    net.Conn
	}
	var paths []path
	for _, p := range []struct {
		name     string
		from, to *netnsx.NS
		dst      string
	}{
		{"server→client", tp.server, tp.client, clientAddr.Addr().String()},
		{"client→server", tp.client, tp.server, serverAddr.Addr().String()},
	} {
		pc, err := p.to.ListenPacket(ctx, "udp", net.JoinHostPort(p.dst, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pc.Close() }()
		c, err := p.from.Dial(ctx, "udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		paths = append(paths, path{p.name, pc, c})
	}

	faulttest.Flap(t, tp.clientEth, 50*time.Millisecond, tp.serverEth)
	for _, p := range paths {
		if _, err := p.c.Write([]byte("first")); err != nil {
			t.Errorf("%s right after Flap: %v", p.name, err)
		}
	}
	for _, p := range paths {
		_ = p.pc.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := p.pc.ReadFrom(make([]byte, 16)); err != nil {
			t.Errorf("%s: the first datagram after Flap was lost: %v", p.name, err)
		}
	}
	for _, ns := range []*netnsx.NS{tp.client, tp.server} {
		l := iptest.Links(t, ns.Name())["eth0"]
		if l.Operstate != "UP" || l.Qdisc == "" || l.Qdisc == "noop" {
			t.Errorf("eth0 in %s after Flap: operstate %s, qdisc %q; want UP with queueing", ns, l.Operstate, l.Qdisc)
		}
	}
	if err := dial(tp.client, addr, 10*time.Second); err != nil {
		t.Fatalf("dial right after the flap: %v", err)
	}
}

// While Down holds the link down nothing passes; Remove brings it back.
func TestIntegrationDown(t *testing.T) {
	tp := newTopo(t)
	addr := tp.serve(t, "8084")
	d := faulttest.Down(t, tp.serverEth, tp.clientEth)
	if err := dial(tp.client, addr, time.Second); err == nil {
		t.Fatal("dial through a link that is down succeeded")
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := dial(tp.client, addr, 10*time.Second); err != nil {
		t.Fatalf("dial after the link came back: %v", err)
	}
}

// Down and up again, a link loses its IPv6 addresses, the routes added through it and
// its permanent neighbours; after Flap they are back (ip says so), and a dial through
// the added routes, IPv4 and IPv6, gets through.
func TestIntegrationFlapRestores(t *testing.T) {
	tp := newTopo(t)
	v6c, v6s := netip.MustParsePrefix("fd91::1/64"), netip.MustParsePrefix("fd91::2/64")
	for _, step := range []error{
		tp.clientEth.AddAddr(v6c),
		tp.serverEth.AddAddr(v6s),
		tp.serverEth.AddAddr(netip.MustParsePrefix("10.92.0.2/32")),
		tp.serverEth.AddAddr(netip.MustParsePrefix("fd92::2/128")),
		tp.client.AddRoute(netnsx.Route{Dst: netip.MustParsePrefix("10.92.0.0/16"), Gateway: serverAddr.Addr()}),
		tp.client.AddRoute(netnsx.Route{Dst: netip.MustParsePrefix("fd92::/64"), Gateway: v6s.Addr()}),
		tp.clientEth.AddNeighbor(netip.MustParseAddr("10.91.0.99"), net.HardwareAddr{2, 0, 0, 0, 0, 0x99}),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	tp.serve(t, "8085") // on the server's 10.91.0.2; the routed addresses get their own
	for _, addr := range []string{"10.92.0.2:8086", "[fd92::2]:8086"} {
		tp.serveAt(t, addr)
	}

	faulttest.Flap(t, tp.clientEth, 10*time.Millisecond, tp.serverEth)

	routes := map[string]bool{}
	for _, fam := range []string{"4", "6"} {
		for _, r := range iptest.Routes(t, tp.client.Name(), fam) {
			routes[r.Dst+" via "+r.Gateway] = true
		}
	}
	for _, want := range []string{"10.92.0.0/16 via 10.91.0.2", "fd92::/64 via fd91::2"} {
		if !routes[want] {
			t.Errorf("after Flap ip route lacks %s: %v", want, routes)
		}
	}
	addrs := map[string]bool{}
	for _, a := range iptest.Links(t, tp.client.Name())["eth0"].AddrInfo {
		addrs[a.Local] = true
	}
	if !addrs["fd91::1"] {
		t.Errorf("after Flap eth0 lacks fd91::1: %v", addrs)
	}
	var neighs []struct {
		Dst    string `json:"dst"`
		Lladdr string `json:"lladdr"`
	}
	iptest.Run(t, &neighs, "ip", "-n", tp.client.Name(), "-j", "neigh", "show", "nud", "permanent")
	if len(neighs) != 1 || neighs[0].Dst != "10.91.0.99" {
		t.Errorf("after Flap the permanent neighbours are %+v, want 10.91.0.99", neighs)
	}
	for _, addr := range []string{"10.92.0.2:8086", "[fd92::2]:8086"} {
		if err := dial(tp.client, addr, 10*time.Second); err != nil {
			t.Errorf("dial %s through a restored route: %v", addr, err)
		}
	}
}

// What went with its link needs no undoing: Remove after the link was deleted is nil.
func TestIntegrationRemoveAfterLinkGone(t *testing.T) {
	tp := newTopo(t)
	q, err := fault.LimitRate(tp.clientEth, fault.RateLimit{Rate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fault.Down(tp.serverEth)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.clientEth.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := fault.RemoveAll(q, d); err != nil {
		t.Fatalf("Remove after the link was deleted: %v", err)
	}
}
