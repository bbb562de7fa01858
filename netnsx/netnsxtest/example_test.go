package netnsxtest_test

import (
	"net/netip"
	"testing"

	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// A test that needs two connected namespaces. It skips where namespaces cannot be
// made, and leaves nothing behind, pass or fail.
func ExampleNew() {
	testPair := func(t *testing.T) {
		a, b := netnsxtest.New(t), netnsxtest.New(t)
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
			B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// ... a.Dial / b.Listen ...
	}
	_ = testPair
}
