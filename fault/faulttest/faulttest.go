// Package faulttest breaks a test's own network for the rest of the test, in the
// spirit of net/http/httptest: each helper fails the test if the impairment cannot be
// made, and undoes it at cleanup (before the fixture namespaces of netnsxtest.New made
// earlier are deleted).
//
//	server := netnsxtest.New(t, "server")
//	...
//	faulttest.ResetHandshakes(t, server, 8081) // every dial to :8081 is refused
//	faulttest.Partition(t, router, siteA, siteB) // A and B cannot reach each other
package faulttest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/netnsx"
)

// cleanup removes imp when the test ends, failing the test if that fails.
func cleanup[T fault.Impairment](tb testing.TB, imp T) T {
	tb.Helper()
	tb.Cleanup(func() {
		if err := imp.Remove(); err != nil {
			tb.Errorf("faulttest: %v", err)
		}
	})
	return imp
}

// Add adds r to ns's filter table for the rest of the test.
func Add(tb testing.TB, ns *netnsx.NS, r fault.Rule) *fault.Filter {
	tb.Helper()
	f, err := fault.Add(ns, r)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, f)
}

// Loss drops percent of the packets r matches in ns for the rest of the test.
func Loss(tb testing.TB, ns *netnsx.NS, percent int, r fault.Rule) *fault.Filter {
	tb.Helper()
	f, err := fault.Loss(ns, percent, r)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, f)
}

// ResetHandshakes refuses every new TCP connection to port in ns with a reset for
// the rest of the test.
func ResetHandshakes(tb testing.TB, ns *netnsx.NS, port int) *fault.Filter {
	tb.Helper()
	f, err := fault.ResetHandshakes(ns, port)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, f)
}

// Partition cuts a from b, both ways, wherever ns sees their packets, for the rest of
// the test.
func Partition(tb testing.TB, ns *netnsx.NS, a, b netip.Prefix) *fault.Filter {
	tb.Helper()
	f, err := fault.Partition(ns, a, b, false)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, f)
}

// PartitionOneWay drops what goes from from to to, and lets the other way through,
// for the rest of the test.
func PartitionOneWay(tb testing.TB, ns *netnsx.NS, from, to netip.Prefix) *fault.Filter {
	tb.Helper()
	f, err := fault.Partition(ns, from, to, true)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, f)
}

// LimitRate holds what link sends to bitsPerSecond for the rest of the test.
func LimitRate(tb testing.TB, link *netnsx.Link, bitsPerSecond uint64) *fault.Qdisc {
	tb.Helper()
	q, err := fault.LimitRate(link, fault.RateLimit{Rate: bitsPerSecond})
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, q)
}

// Down takes link down until the test ends or the returned handle's Remove, which
// waits until link and the links in wait carry traffic again.
func Down(tb testing.TB, link *netnsx.Link, wait ...*netnsx.Link) *fault.LinkDown {
	tb.Helper()
	d, err := fault.Down(link, wait...)
	if err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
	return cleanup(tb, d)
}

// Flap takes link down for the time given and returns once it and the links in wait
// carry traffic again.
func Flap(tb testing.TB, link *netnsx.Link, down time.Duration, wait ...*netnsx.Link) {
	tb.Helper()
	if err := fault.Flap(link, down, wait...); err != nil {
		tb.Fatalf("faulttest: %v", err)
	}
}
