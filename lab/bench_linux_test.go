package lab_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

var big = flag.Bool("lab.big", false, "also run the N=1000 star benchmarks")

// starAddr is the address of the i-th leaf (1-based), as bench/compare gives it.
func starAddr(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(i%250 + 2)}), 16)
}

// starSpec is bench/compare's star as a description: a node "lab" with br0
// (172.16.0.1/16), and n IPv4-only leaves, each with eth0 on a veth to br0.
func starSpec(n int) *lab.Spec {
	s := &lab.Spec{Name: "star", Topology: lab.Topology{
		Defaults: lab.Node{IPv4Only: true},
		Nodes: map[string]lab.Node{"lab": {Bridges: map[string]lab.Bridge{
			"br0": {Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.0.1/16")}},
		}}},
	}}
	for i := 1; i <= n; i++ {
		leaf := fmt.Sprintf("l%d", i)
		s.Topology.Nodes[leaf] = lab.Node{}
		s.Topology.Links = append(s.Topology.Links, lab.Link{Endpoints: [2]lab.Endpoint{
			{Node: "lab", Interface: fmt.Sprintf("v%d", i), Bridge: "br0"},
			{Node: leaf, Interface: "eth0", Addrs: []netip.Prefix{starAddr(i)}},
		}})
	}
	return s
}

// buildDirect builds starSpec(n) with the typed calls, one after another, as a program
// without package lab would; it returns the namespaces made, for DeleteAll.
func buildDirect(prefix string, n int) (made []*netnsx.NS, err error) {
	hub, err := netnsx.Create(netnsx.Config{Name: prefix + "lab", IPv4Only: true})
	if err != nil {
		return nil, err
	}
	made = append(made, hub)
	br, err := bridge.Create(hub, bridge.Config{Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.0.1/16")}})
	if err != nil {
		return made, err
	}
	for i := 1; i <= n; i++ {
		leaf, err := netnsx.Create(netnsx.Config{Name: fmt.Sprintf("%sl%d", prefix, i), IPv4Only: true})
		if err != nil {
			return made, err
		}
		made = append(made, leaf)
		if _, err := veth.Create(veth.Config{
			A: veth.End{NS: hub, Name: fmt.Sprintf("v%d", i), Master: br.Link},
			B: veth.End{NS: leaf, Name: "eth0", Addrs: []netip.Prefix{starAddr(i)}},
		}); err != nil {
			return made, err
		}
	}
	return made, nil
}

func benchSizes() []int {
	if *big {
		return []int{10, 100, 1000}
	}
	return []int{10, 100}
}

// settle gives the kernel time to free the namespaces of the round before.
func settle() { time.Sleep(500 * time.Millisecond) }

// BenchmarkBuild builds and tears down the star from its description (workers: how many
// goroutines make nodes and links) and with direct calls; only the build is timed.
//
//	go test -run '^$' -bench Build -benchtime 5x ./lab              # N = 10, 100
//	go test -run '^$' -bench Build -benchtime 3x ./lab -args -lab.big  # and N = 1000
func BenchmarkBuild(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("N=%d/direct", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				settle()
				prefix := netnsxtest.Name(0) + "-"
				b.StartTimer()
				made, err := buildDirect(prefix, n)
				b.StopTimer()
				if err := errors.Join(err, netnsx.DeleteAll(made...)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("N=%d/spec/workers=%d", n, w), func(b *testing.B) {
				old := *lab.Workers
				*lab.Workers = w
				defer func() { *lab.Workers = old }()
				s := starSpec(n)
				dir := b.TempDir()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					settle()
					s.Prefix = netnsxtest.Name(0) + "-"
					b.StartTimer()
					l, err := lab.Build(context.Background(), s, &lab.Options{StateDir: dir})
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					if err := l.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

var compare = flag.String("lab.compare", "", "sizes for TestCompareBuild, such as 100,1000; empty: skip it")

// TestCompareBuild times the star built from its description (one and two goroutines)
// against the same star built with direct calls, in rounds that rotate the order, each
// build after a pause for the kernel to free the namespaces of the last, and logs the
// median build times and their ratios. A measurement, not a test: it runs only when
// asked, and asserts nothing about time.
//
//	go test -run TestCompareBuild -v ./lab -args -lab.compare 100,1000 -lab.rounds 3
func TestCompareBuild(t *testing.T) {
	if *compare == "" {
		t.Skip("a measurement: run with -args -lab.compare 100,1000")
	}
	netnsxtest.RequirePrivileged(t)
	type method struct {
		name  string
		build func(n int) (teardown func() error, err error)
	}
	spec := func(w int) func(n int) (func() error, error) {
		return func(n int) (func() error, error) {
			old := *lab.Workers
			*lab.Workers = w
			defer func() { *lab.Workers = old }()
			s := starSpec(n)
			s.Prefix = netnsxtest.Name(0) + "-"
			l, err := lab.Build(context.Background(), s, &lab.Options{StateDir: t.TempDir()})
			if err != nil {
				return nil, err
			}
			return l.Close, nil
		}
	}
	methods := []method{
		{"direct", func(n int) (func() error, error) {
			made, err := buildDirect(netnsxtest.Name(0)+"-", n)
			return func() error { return netnsx.DeleteAll(made...) }, err
		}},
		{"spec-1g", spec(1)},
		{"spec-2g", spec(2)},
	}
	for _, f := range strings.Split(*compare, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		times := map[string][]time.Duration{}
		for r := 0; r < *rounds; r++ {
			for k := range methods {
				m := methods[(k+r)%len(methods)]
				time.Sleep(*pause)
				start := time.Now()
				teardown, err := m.build(n)
				d := time.Since(start)
				if teardown != nil {
					err = errors.Join(err, teardown())
				}
				if err != nil {
					t.Fatalf("%s N=%d: %v", m.name, n, err)
				}
				times[m.name] = append(times[m.name], d)
			}
		}
		direct := median(times["direct"])
		for _, m := range methods {
			md := median(times[m.name])
			t.Logf("N=%d %-8s median %v of %v (%.2f× direct)", n, m.name, md.Round(time.Millisecond), times[m.name], float64(md)/float64(direct))
		}
	}
}

var (
	rounds = flag.Int("lab.rounds", 3, "rounds of TestCompareBuild")
	pause  = flag.Duration("lab.pause", 2*time.Second, "pause before each build of TestCompareBuild")
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
