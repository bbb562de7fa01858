package main

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

var big = flag.Bool("star.big", false, "also run the N=1000 star benchmarks")

func sizes() []int {
	if *big {
		return []int{10, 100, 1000}
	}
	return []int{10, 100}
}

// BenchmarkStar builds and tears down the star with nstopo; build and teardown time
// per operation are reported separately.
func BenchmarkStar(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	for _, n := range sizes() {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("N=%d/workers=%d", n, workers), func(b *testing.B) {
				b.ReportAllocs()
				measure(b, n, func(prefix string) (func() error, error) {
					s, err := BuildStar(prefix, n, workers, true)
					if err != nil {
						return nil, err
					}
					return s.Teardown, nil
				})
			})
		}
	}
}

// BenchmarkFloor is the same star with raw vishvananda/netlink calls.
func BenchmarkFloor(b *testing.B) {
	netnsxtest.RequirePrivileged(b)
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			measure(b, n, func(prefix string) (func() error, error) {
				s, err := BuildFloor(prefix, n, true)
				if err != nil {
					return nil, err
				}
				return s.Teardown, nil
			})
		})
	}
}

// measure times build (the benchmark's own clock) and teardown (reported as
// teardown-ns/op) separately.
func measure(b *testing.B, n int, build func(prefix string) (teardown func() error, err error)) {
	var teardown time.Duration
	for i := 0; i < b.N; i++ {
		prefix := netnsxtest.Name(0) + "-"
		teardownFn, err := build(prefix)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		err = teardownFn()
		teardown += time.Since(start)
		b.StartTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(teardown.Nanoseconds())/float64(b.N), "teardown-ns/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "build-ns/node")
}
