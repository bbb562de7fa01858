package fault_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/fault/faulttest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// ping reports whether one echo to dst is answered within 1 s.
func ping(ns *netnsx.NS, dst netip.Addr) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := ns.Ping(ctx, dst)
	return err
}

// ICMP and ICMPv6 rules match their own family's echoes.
func TestIntegrationICMP(t *testing.T) {
	tp := newTopo(t)
	v6c, v6s := netip.MustParsePrefix("fd93::1/64"), netip.MustParsePrefix("fd93::2/64")
	if err := errors.Join(tp.clientEth.AddAddr(v6c), tp.serverEth.AddAddr(v6s)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		proto fault.Protocol
		dst   netip.Prefix
	}{
		{fault.ICMP, serverHost},
		{fault.ICMPv6, netip.PrefixFrom(v6s.Addr(), 128)},
	} {
		t.Run(tc.proto.String(), func(t *testing.T) {
			netnsxtest.RequireReachable(t, tp.client, tc.dst.Addr())
			f := faulttest.Add(t, tp.client, fault.Rule{Direction: fault.Out, Protocol: tc.proto, Dst: tc.dst})
			if err := ping(tp.client, tc.dst.Addr()); err == nil {
				t.Fatalf("%s to %s answered through a drop rule", tc.proto, tc.dst)
			}
			if n, err := f.Packets(); err != nil || n == 0 {
				t.Errorf("counter %d, %v; want the echo counted", n, err)
			}
			if err := f.Remove(); err != nil {
				t.Fatal(err)
			}
			netnsxtest.RequireReachable(t, tp.client, tc.dst.Addr())
		})
	}
}

// A partition in the router between two sites: the forward chain cuts them apart, both
// ways, and Remove joins them again.
func TestIntegrationPartitionInRouter(t *testing.T) {
	a, r, b := netnsxtest.New(t, "siteA"), netnsxtest.New(t, "router"), netnsxtest.New(t, "siteB")
	if err := r.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	netA, netB := netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.0.0/24")
	for _, p := range []struct {
		site       *netnsx.NS
		addr, gw   string
		otherSite  netip.Prefix
		routerName string
	}{
		{a, "10.1.0.2/24", "10.1.0.1/24", netB, "ethA"},
		{b, "10.2.0.2/24", "10.2.0.1/24", netA, "ethB"},
	} {
		pair, err := veth.Create(veth.Config{
			A: veth.End{NS: p.site, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix(p.addr)}},
			B: veth.End{NS: r, Name: p.routerName, Addrs: []netip.Prefix{netip.MustParsePrefix(p.gw)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pair.Delete() })
		gw := netip.MustParsePrefix(p.gw).Addr()
		if err := p.site.AddRoute(netnsx.Route{Dst: p.otherSite, Gateway: gw}); err != nil {
			t.Fatal(err)
		}
	}
	bAddr := netip.MustParseAddr("10.2.0.2")
	netnsxtest.RequireTCP(t, a, b, "10.2.0.2:9000")

	cut, err := fault.Partition(r, netA, netB, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cut.Remove() }()
	if err := ping(a, bAddr); err == nil {
		t.Error("A reached B through the partition")
	}
	if err := ping(b, netip.MustParseAddr("10.1.0.2")); err == nil {
		t.Error("B reached A through the partition")
	}
	if n, err := cut.Packets(); err != nil || n < 2 {
		t.Errorf("partition counter %d, %v; want both echoes", n, err)
	}
	if err := cut.Remove(); err != nil {
		t.Fatal(err)
	}
	netnsxtest.RequireTCP(t, a, b, "10.2.0.2:9000")
}

// Many goroutines adding and removing filters in one namespace at once: each Remove
// takes only its own rule, the table goes with the last, and nothing is left.
func TestIntegrationConcurrent(t *testing.T) {
	ns := netnsxtest.New(t, "concurrent")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				f, err := fault.Add(ns, fault.Rule{Protocol: fault.UDP, DstPort: 1000 + i*10 + j})
				if err != nil {
					errs <- err
					return
				}
				if len(f.Handles()) != 1 {
					errs <- fmt.Errorf("%s has handles %v", f, f.Handles())
				}
				if err := f.Remove(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if rs := ruleset(t, ns); !rs.empty() {
		t.Errorf("left behind: %+v", rs)
	}
}

// A reject from the output chain answers the namespace's own process: a client refused
// locally, without a packet on the wire.
func TestIntegrationRejectOut(t *testing.T) {
	tp := newTopo(t)
	addr := tp.serve(t, "8087")
	faulttest.Add(t, tp.client, fault.Rule{Direction: fault.Out, Protocol: fault.TCP, Dst: serverHost, DstPort: 8087, Verdict: fault.RejectReset})
	err := dial(tp.client, addr, 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial: %v, want connection refused", err)
	}
}

// The table is inet: a rule without prefixes acts on IPv6 too, and the rejects answer
// in ICMPv6 or with a reset over IPv6.
func TestIntegrationIPv6Verdicts(t *testing.T) {
	tp := newTopo(t)
	v6c, v6s := netip.MustParsePrefix("fd94::1/64"), netip.MustParsePrefix("fd94::2/64")
	if err := errors.Join(tp.clientEth.AddAddr(v6c), tp.serverEth.AddAddr(v6s)); err != nil {
		t.Fatal(err)
	}
	const v6addr = "[fd94::2]:8088"
	tp.serveAt(t, v6addr)
	netnsxtest.RequireDial(t, tp.client, v6addr)
	for _, tc := range []struct {
		verdict fault.Verdict
		want    func(error) bool
	}{
		{fault.RejectReset, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{fault.RejectHostUnreachable, func(err error) bool { return errors.Is(err, syscall.EHOSTUNREACH) }},
		{fault.RejectPortUnreachable, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{fault.Drop, timedOut},
	} {
		t.Run(tc.verdict.String(), func(t *testing.T) {
			faulttest.Add(t, tp.server, fault.Rule{Protocol: fault.TCP, DstPort: 8088, Verdict: tc.verdict})
			if err := dial(tp.client, v6addr, 2*time.Second); !tc.want(err) {
				t.Fatalf("dial %s through %s: %v", v6addr, tc.verdict, err)
			}
		})
	}
	netnsxtest.RequireDial(t, tp.client, v6addr)
}
