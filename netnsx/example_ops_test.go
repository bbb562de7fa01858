package netnsx_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// The calls that change a topology in place, each with the ip command it replaces.

// must ends an example on the first error.
func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// eth0 returns the eth0 of ns.
func eth0(ns *netnsx.NS) *netnsx.Link {
	l, err := ns.Link("eth0")
	must(err)
	return l
}

func ExampleLink_RemoveAddr() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	l := eth0(a)
	must(l.RemoveAddr(netip.MustParsePrefix("10.0.0.1/24"))) // ip addr del 10.0.0.1/24 dev eth0
	addrs, err := l.Addrs()
	must(err)
	v4 := 0
	for _, p := range addrs {
		if p.Addr().Is4() {
			v4++
		}
	}
	fmt.Println(v4, "IPv4 addresses left")
	err = l.RemoveAddr(netip.MustParsePrefix("10.0.0.1/24"))
	fmt.Println(errors.Is(err, netnsx.ErrNotFound))
	// Output:
	// 0 IPv4 addresses left
	// true
}

func ExampleLink_SetName() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	l := eth0(a)
	must(l.SetName("uplink0")) // ip link set dev eth0 name uplink0
	fmt.Println(l.Name())
	err := l.SetName("lo")
	fmt.Println(errors.Is(err, netnsx.ErrExists))
	// Output:
	// uplink0
	// true
}

func ExampleLink_SetHardwareAddr() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	l := eth0(a)
	must(l.SetHardwareAddr(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a})) // ip link set dev eth0 address 02:00:00:00:00:0a
	mac, err := l.HardwareAddr()
	must(err)
	fmt.Println(mac)
	err = l.SetHardwareAddr(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1})
	fmt.Println(err)
	// Output:
	// 02:00:00:00:00:0a
	// netnsx: set hardware address of eth0: netnsx: invalid argument: hardware address 01:00:5e:00:00:01 is a multicast address
}

// A veth end moves to another namespace and the *Link follows it; it arrives down and
// without its addresses.
func ExampleLink_SetNS() {
	a, b := pair()
	c, err := netnsx.New("c-" + netnsxtest.Name(0))
	must(err)
	defer netnsx.DeleteAll(a, b, c)
	l := eth0(a)
	fmt.Println(errors.Is(l.SetNS(b), netnsx.ErrExists)) // b has an eth0 already
	must(l.SetNS(c))                                     // ip link set dev eth0 netns c
	fmt.Println(l.NS() == c)
	must(l.AddAddr(netip.MustParsePrefix("10.0.0.3/24")))
	must(l.Up())
	must(l.WaitReady(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Ping(ctx, netip.MustParseAddr("10.0.0.2")) // b, at the other end
	fmt.Println(err)
	// Output:
	// true
	// true
	// <nil>
}

func ExampleLink_NoMaster() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	br, err := bridge.Create(a, bridge.Config{Name: "br0"})
	must(err)
	must(br.Attach(eth0(a)))
	ports, err := br.Ports()
	must(err)
	fmt.Println(len(ports))
	must(eth0(a).NoMaster()) // ip link set dev eth0 nomaster
	ports, err = br.Ports()
	must(err)
	fmt.Println(len(ports))
	// Output:
	// 1
	// 0
}

// Stats reads the counters `ip -s link` prints: here, that the pings went out and their
// replies came back.
func ExampleLink_Stats() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	l := eth0(a)
	before, err := l.Stats()
	must(err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = a.PingStats(ctx, netip.MustParseAddr("10.0.0.2"), 3, 10*time.Millisecond)
	must(err)
	after, err := l.Stats()
	must(err)
	fmt.Println(after.TxPackets-before.TxPackets >= 3, after.RxPackets-before.RxPackets >= 3, after.TxDropped)
	// Output: true true 0
}

// wire joins two namespaces with a veth pair, addressed and up.
func wire(a *netnsx.NS, aName, aAddr string, b *netnsx.NS, bName, bAddr string) {
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: aName, Addrs: []netip.Prefix{netip.MustParsePrefix(aAddr)}},
		B: veth.End{NS: b, Name: bName, Addrs: []netip.Prefix{netip.MustParsePrefix(bAddr)}},
	})
	must(err)
}

// A host reaches another subnet through a router, a namespace with forwarding on; then
// ReplaceRoute sends the traffic through a second router, in one step.
//
//	h1 eth0 10.1.0.2 ── 10.1.0.1 r1 10.2.0.1 ── 10.2.0.2 eth0 h2
//	h1 eth1 10.3.0.2 ── 10.3.0.1 r2 10.4.0.1 ── 10.4.0.2 eth1 h2
func ExampleNS_ReplaceRoute() {
	var nss []*netnsx.NS
	for _, name := range []string{"h1", "r1", "r2", "h2"} {
		ns, err := netnsx.Create(netnsx.Config{Name: name + "-" + netnsxtest.Name(0), IPv4Only: true})
		must(err)
		nss = append(nss, ns)
	}
	defer netnsx.DeleteAll(nss...)
	h1, r1, r2, h2 := nss[0], nss[1], nss[2], nss[3]
	wire(h1, "eth0", "10.1.0.2/24", r1, "west", "10.1.0.1/24")
	wire(r1, "east", "10.2.0.1/24", h2, "eth0", "10.2.0.2/24")
	wire(h1, "eth1", "10.3.0.2/24", r2, "west", "10.3.0.1/24")
	wire(r2, "east", "10.4.0.1/24", h2, "eth1", "10.4.0.2/24")
	for _, r := range []*netnsx.NS{r1, r2} {
		must(r.SetSysctl("net.ipv4.ip_forward", "1")) // ip netns exec r1 sysctl -w net.ipv4.ip_forward=1
	}
	pf, ad := netip.MustParsePrefix, netip.MustParseAddr
	must(h2.AddRoute(netnsx.Route{Dst: pf("10.1.0.0/24"), Gateway: ad("10.2.0.1")}))
	must(h2.AddRoute(netnsx.Route{Dst: pf("10.3.0.0/24"), Gateway: ad("10.4.0.1")}))
	must(r2.AddRoute(netnsx.Route{Dst: pf("10.2.0.0/24"), Gateway: ad("10.4.0.2")}))
	must(h1.AddRoute(netnsx.Route{Dst: pf("10.2.0.0/16"), Gateway: ad("10.1.0.1")})) // ip route add 10.2.0.0/16 via 10.1.0.1

	west1, err := r1.Link("west")
	must(err)
	west2, err := r2.Link("west")
	must(err)
	through := func() {
		s1, err := west1.Stats()
		must(err)
		s2, err := west2.Stats()
		must(err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := h1.PingStats(ctx, ad("10.2.0.2"), 5, 10*time.Millisecond)
		must(err)
		e1, err := west1.Stats()
		must(err)
		e2, err := west2.Stats()
		must(err)
		fmt.Printf("%d/5 replies; r1 forwarded: %t, r2 forwarded: %t\n", st.Received,
			e1.RxPackets-s1.RxPackets >= 5, e2.RxPackets-s2.RxPackets >= 5)
	}
	through()
	// ip route replace 10.2.0.0/16 via 10.3.0.1
	must(h1.ReplaceRoute(netnsx.Route{Dst: pf("10.2.0.0/16"), Gateway: ad("10.3.0.1")}))
	through()
	routes, err := h1.Routes()
	must(err)
	for _, r := range routes {
		if r.Gateway.IsValid() {
			fmt.Println(r.Dst, "via", r.Gateway, "dev", r.Dev)
		}
	}
	// Output:
	// 5/5 replies; r1 forwarded: true, r2 forwarded: false
	// 5/5 replies; r1 forwarded: false, r2 forwarded: true
	// 10.2.0.0/16 via 10.3.0.1 dev eth1
}

// Routes in a table of their own, as policy routing uses them, with a metric.
func ExampleNS_RoutesIn() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	// ip route add 10.9.0.0/16 via 10.0.0.2 table 100 metric 5
	r := netnsx.Route{Dst: netip.MustParsePrefix("10.9.0.0/16"), Gateway: netip.MustParseAddr("10.0.0.2"), Table: 100, Metric: 5}
	must(a.AddRoute(r))
	routes, err := a.RoutesIn(100) // ip route show table 100
	must(err)
	for _, r := range routes {
		fmt.Println(r.Dst, r.Gateway, r.Dev, r.Table, r.Metric)
	}
	main, err := a.Routes() // main is not table 100
	must(err)
	for _, r := range main {
		if r.Dst.Addr().Is4() {
			fmt.Println(r.Dst, r.Dev, r.Table)
		}
	}
	// Output:
	// 10.9.0.0/16 10.0.0.2 eth0 100 5
	// 10.0.0.0/24 eth0 0
}

// A route read back deletes as it is.
func ExampleNS_DeleteRoute() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	must(a.AddRoute(netnsx.Route{Dst: netip.MustParsePrefix("10.9.0.0/16"), Gateway: netip.MustParseAddr("10.0.0.2")}))
	routes, err := a.Routes()
	must(err)
	for _, r := range routes {
		if r.Gateway.IsValid() {
			must(a.DeleteRoute(r)) // ip route del 10.9.0.0/16 via 10.0.0.2 dev eth0
			fmt.Println(errors.Is(a.DeleteRoute(r), netnsx.ErrNotFound))
		}
	}
	// Output: true
}

// Output runs a command inside the namespace and returns what it printed, as Mininet's
// host.cmd() does; a failure carries the command's standard error.
func ExampleNS_Output() {
	a, b := pair()
	defer netnsx.DeleteAll(a, b)
	ctx := context.Background()
	out, err := a.Output(ctx, "cat", "/proc/sys/net/ipv4/ip_forward") // ip netns exec a cat ...
	must(err)
	fmt.Print(string(out))
	_, err = a.Output(ctx, "sh", "-c", "echo no such route >&2; exit 2")
	fmt.Println(strings.TrimPrefix(err.Error(), "netnsx: output sh in "+a.Name()+": "))
	// Output:
	// 0
	// exit status 2: "no such route"
}
