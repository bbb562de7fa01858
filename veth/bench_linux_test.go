package veth_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// BenchmarkCreate creates a pair into a namespace — host end on a bridge, inner end
// addressed — and waits until both ends carry traffic.
func BenchmarkCreate(b *testing.B) {
	lab, leaf := netnsxtest.New(b), netnsxtest.New(b)
	br, err := bridge.Create(lab, bridge.Config{Name: "br0"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := veth.Create(veth.Config{
			A: veth.End{NS: lab, Name: fmt.Sprintf("v%d", i), Master: br.Link},
			B: veth.End{NS: leaf, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.0.2/16")}},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := p.Delete(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
