package netnsx_test

import (
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
