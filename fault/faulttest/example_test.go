package faulttest_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nstopo/nstopo/fault/faulttest"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// A test reads as its intent: each line breaks something for the rest of the test, and
// the test's cleanup mends it.
func Example() {
	testIncident := func(t *testing.T) {
		client, server, router := netnsxtest.New(t, "client"), netnsxtest.New(t, "server"), netnsxtest.New(t, "router")
		// ... veth pairs, addresses, routes, the service on :8081 ...

		faulttest.ResetHandshakes(t, server, 8081) // the article's incident
		faulttest.Partition(t, router, netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16"))
		eth0, err := client.Link("eth0")
		if err != nil {
			t.Fatal(err)
		}
		faulttest.LimitRate(t, eth0, 10_000_000)      // 10 Mbit/s out of the client
		faulttest.Flap(t, eth0, 200*time.Millisecond) // back, and carrying traffic, on return
		// ... dial, and check what the client makes of it ...
	}
	_ = testIncident
}
