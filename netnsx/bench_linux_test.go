package netnsx_test

import (
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// BenchmarkNew creates a named namespace (lo up, handle open); deleting it is not timed.
func BenchmarkNew(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	b.ReportAllocs()
	made := make([]*netnsx.NS, 0, b.N)
	defer func() {
		for _, ns := range made {
			_ = ns.Delete()
		}
	}()
	for i := 0; i < b.N; i++ {
		ns, err := netnsx.New("bench-" + netnsxtest.Name(0))
		if err != nil {
			b.Fatal(err)
		}
		made = append(made, ns)
	}
}

// BenchmarkDelete deletes namespaces made outside the timer.
func BenchmarkDelete(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	b.ReportAllocs()
	made := make([]*netnsx.NS, b.N)
	b.StopTimer()
	for i := range made {
		ns, err := netnsx.New("bench-" + netnsxtest.Name(0))
		if err != nil {
			b.Fatal(err)
		}
		made[i] = ns
	}
	b.StartTimer()
	for _, ns := range made {
		if err := ns.Delete(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDo enters a namespace and comes back.
func BenchmarkDo(b *testing.B) {
	ns := netnsxtest.New(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ns.Do(func() error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinks lists a namespace's links: one netlink round trip.
func BenchmarkLinks(b *testing.B) {
	ns := netnsxtest.New(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ns.Links(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStats reads a link's counters: one netlink round trip.
func BenchmarkStats(b *testing.B) {
	ns := netnsxtest.New(b)
	lo, err := ns.Link("lo")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := lo.Stats(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplaceRoute moves a route between two gateways: a device lookup and the
// replace, two round trips.
func BenchmarkReplaceRoute(b *testing.B) {
	ns := netnsxtest.New(b)
	lo, err := ns.Link("lo")
	if err != nil {
		b.Fatal(err)
	}
	if err := lo.AddAddr(netip.MustParsePrefix("10.50.0.1/24")); err != nil {
		b.Fatal(err)
	}
	gws := []netip.Addr{netip.MustParseAddr("10.50.0.2"), netip.MustParseAddr("10.50.0.3")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := netnsx.Route{Dst: netip.MustParsePrefix("10.51.0.0/16"), Gateway: gws[i%2], Dev: "lo"}
		if err := ns.ReplaceRoute(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetSysctl writes one setting: the cost of a private procfs instance (as
// root), or of the /proc path lookup that grows with the namespaces on the machine.
func BenchmarkSetSysctl(b *testing.B) {
	ns := netnsxtest.New(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ns.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
			b.Fatal(err)
		}
	}
}
