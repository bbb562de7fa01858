package netnsxtest_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// Two namespaces a test owns, joined by a veth: the smallest topology. Each label ends
// its namespace's name, so failure messages say which one is meant.
func ExampleNew() {
	asTest(func(t testing.TB) {
		client, server := netnsxtest.New(t, "client"), netnsxtest.New(t, "server")
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: client, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
			B: veth.End{NS: server, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(strings.HasSuffix(client.Name(), "-client")) // nstt-<token>-<n>-client
		netnsxtest.RequireReachable(t, client, netip.MustParseAddr("10.0.0.2"))
		fmt.Println("10.0.0.2 answers")
	})
	// Output:
	// true
	// 10.0.0.2 answers
}

// Every address is pinged at once: a test with dead addresses fails after one deadline
// (3 s), naming them all.
func ExampleRequireReachable() {
	asTest(func(t testing.TB) {
		a, b := joined(t)
		netnsxtest.RequireReachable(t, a, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("127.0.0.1"))
		netnsxtest.RequireReachable(t, b, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))
		fmt.Println("all reachable")
	})
	// Output: all reachable
}

// RequireDial proves that the test's own service accepts connections from another
// namespace; it brings no listener of its own.
func ExampleRequireDial() {
	asTest(func(t testing.TB) {
		client, server := joined(t)
		l, err := server.Listen(context.Background(), "tcp", "10.0.0.2:8081")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		netnsxtest.RequireDial(t, client, "10.0.0.2:8081")
		fmt.Println("connected")
	})
	// Output: connected
}

// A program under test, started inside a namespace, listens some time after it starts:
// wait for it before the test talks to it.
func ExampleWaitListening() {
	asTest(func(t testing.TB) {
		client, server := joined(t)
		// The program under test. Here it is this test binary, run as the small server
		// TestHelperServe, which listens after 200 ms.
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
		cmd.Env = append(os.Environ(), "NSTOPO_HELPER=serve", "NSTOPO_SERVE=10.0.0.2:8081", "NSTOPO_SERVE_DELAY=200ms")
		if err := server.Start(cmd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

		netnsxtest.WaitListening(t, client, "tcp", "10.0.0.2:8081", 10*time.Second)
		fmt.Println("listening")
		netnsxtest.RequireDial(t, client, "10.0.0.2:8081")
		fmt.Println("connected")
	})
	// Output:
	// listening
	// connected
}

// Names for what a test makes outside its fixtures, such as a link in the host
// namespace, which must fit 15 bytes and must not collide with another test's.
func ExampleName() {
	fmt.Println(len(netnsxtest.Name(15)), len(netnsxtest.Name(0)))
	// Output: 15 24
}

// joined returns two fixtures joined by a veth: 10.0.0.1/24 in the first, 10.0.0.2/24
// in the second.
func joined(t testing.TB) (a, b *netnsx.NS) {
	a, b = netnsxtest.New(t, "a"), netnsxtest.New(t, "b")
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}
