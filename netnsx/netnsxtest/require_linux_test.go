package netnsxtest

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// pair is two fixtures joined by a veth: 10.9.0.1/24 in a, 10.9.0.2/24 in b.
func pair(t *testing.T) (a, b *netnsx.NS) {
	a, b = New(t, "a"), New(t, "b")
	_, err := veth.Create(veth.Config{
		A: veth.End{NS: a, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}},
		B: veth.End{NS: b, Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.2/24")}},
	})
	require.NoError(t, err)
	return a, b
}

// TestIntegrationRequireReachableAllAtOnce: two dead addresses cost one deadline, not
// two, and the failure names both, and the namespace by its label.
func TestIntegrationRequireReachableAllAtOnce(t *testing.T) {
	a, _ := pair(t)
	addr := netip.MustParseAddr
	RequireReachable(t, a, addr("10.9.0.2"), addr("10.9.0.1"))

	start := time.Now()
	r := record(t, func(tb testing.TB) {
		RequireReachable(tb, a, addr("10.9.0.2"), addr("10.9.0.77"), addr("10.9.0.1"), addr("10.9.0.78"))
	})
	took := time.Since(start)
	require.True(t, r.failed)
	msg := r.String()
	t.Log(msg)
	require.Less(t, took, reachDeadline+time.Second, "the addresses are pinged at once")
	require.Contains(t, msg, "from "+a.Name()+", 2 of 4 addresses")
	require.True(t, strings.HasSuffix(a.Name(), "-a"))
	require.Contains(t, msg, "10.9.0.77: ")
	require.Contains(t, msg, "10.9.0.78: ")
	require.NotContains(t, msg, "10.9.0.2: ")
	require.NotContains(t, msg, "10.9.0.1: ")
}

// TestIntegrationRequireDial probes the test's own listener, and fails where nothing
// listens: it brings no service of its own.
func TestIntegrationRequireDial(t *testing.T) {
	a, b := pair(t)
	l, err := b.Listen(context.Background(), "tcp", "10.9.0.2:8081")
	require.NoError(t, err)
	accepted := make(chan struct{})
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
			close(accepted)
		}
	}()
	RequireDial(t, a, "10.9.0.2:8081")
	<-accepted
	require.NoError(t, l.Close())

	r := record(t, func(tb testing.TB) { RequireDial(tb, a, "10.9.0.2:8081") })
	require.True(t, r.failed)
	require.Contains(t, r.String(), "connect from "+a.Name()+" to 10.9.0.2:8081")
	require.Contains(t, r.String(), "connection refused")
}

// TestHelperServe is not a test: it is the program under test that the WaitListening
// test and example start inside a namespace. It listens on $NSTOPO_SERVE after
// $NSTOPO_SERVE_DELAY and accepts connections until killed.
func TestHelperServe(t *testing.T) {
	addr := os.Getenv("NSTOPO_SERVE")
	if os.Getenv("NSTOPO_HELPER") != "serve" || addr == "" {
		t.Skip("helper process only")
	}
	if d, err := time.ParseDuration(os.Getenv("NSTOPO_SERVE_DELAY")); err == nil {
		time.Sleep(d)
	}
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	for {
		c, err := l.Accept()
		require.NoError(t, err)
		c.Close()
	}
}

// TestIntegrationWaitListening starts a program that listens after 300 ms and waits
// for it; then waits for a port nobody serves and fails with the last error.
func TestIntegrationWaitListening(t *testing.T) {
	a, b := pair(t)
	server := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	server.Env = append(os.Environ(), "NSTOPO_HELPER=serve", "NSTOPO_SERVE=10.9.0.2:8082", "NSTOPO_SERVE_DELAY=300ms")
	server.Stderr = os.Stderr
	require.NoError(t, b.Start(server))
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })

	start := time.Now()
	WaitListening(t, a, "tcp4", "10.9.0.2:8082", 10*time.Second)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "it waited for the program")
	RequireDial(t, a, "10.9.0.2:8082")

	start = time.Now()
	r := record(t, func(tb testing.TB) {
		WaitListening(tb, b, "tcp", "127.0.0.1:8082", 400*time.Millisecond) // bound to 10.9.0.2 only
	})
	took := time.Since(start)
	require.True(t, r.failed)
	require.Contains(t, r.String(), "nothing listening on tcp 127.0.0.1:8082 in "+b.Name())
	require.Contains(t, r.String(), "connection refused", "the last error, not the timeout's")
	require.GreaterOrEqual(t, took, 400*time.Millisecond)
	require.Less(t, took, 1500*time.Millisecond)

	r = record(t, func(tb testing.TB) { WaitListening(tb, b, "udp", "10.9.0.2:53", time.Second) })
	require.Contains(t, r.String(), "network must be tcp")
}
