package netnsx_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestIntegrationSocketErrors: Dial, Listen and ListenPacket say which call failed in
// which namespace, with the sentinel that tells the truth and the errno still there.
func TestIntegrationSocketErrors(t *testing.T) {
	ns := netnsxtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prefix := func(op, network, address string) string {
		return "netnsx: " + op + " " + network + " " + address + " in " + ns.Name() + ": "
	}

	// An address the namespace does not have.
	_, err := ns.Listen(ctx, "tcp", "172.16.9.9:80")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.ErrorIs(t, err, syscall.EADDRNOTAVAIL)
	require.True(t, strings.HasPrefix(err.Error(), prefix("listen", "tcp", "172.16.9.9:80")+"netnsx: invalid argument: "), "%q", err)
	require.Equal(t, 1, strings.Count(err.Error(), " in "+ns.Name()), "wrapped once: %q", err)
	_, err = ns.ListenPacket(ctx, "udp", "172.16.9.9:53")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	require.ErrorIs(t, err, syscall.EADDRNOTAVAIL)
	require.True(t, strings.HasPrefix(err.Error(), prefix("listen", "udp", "172.16.9.9:53")), "%q", err)

	// A port in use.
	l, err := ns.Listen(ctx, "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	_, err = ns.Listen(ctx, "tcp", addr)
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	require.True(t, strings.HasPrefix(err.Error(), prefix("listen", "tcp", addr)+"netnsx: already exists: "), "%q", err)
	pc, err := ns.ListenPacket(ctx, "udp", "127.0.0.1:0")
	require.NoError(t, err)
	_, err = ns.ListenPacket(ctx, "udp", pc.LocalAddr().String())
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	pc.Close()

	// Refused and unreachable: no sentinel fits, the errno does.
	l.Close()
	_, err = ns.Dial(ctx, "tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.True(t, strings.HasPrefix(err.Error(), prefix("dial", "tcp", addr)), "%q", err)
	for _, s := range []error{netnsx.ErrNotFound, netnsx.ErrInvalid, netnsx.ErrExists, netnsx.ErrPermission} {
		require.False(t, errors.Is(err, s), "%q is not %v", err, s)
	}
	var op *net.OpError
	require.ErrorAs(t, err, &op, "the net error is kept")
	_, err = ns.Dial(ctx, "tcp", "10.9.9.9:80") // the namespace has no route at all
	require.ErrorIs(t, err, syscall.ENETUNREACH)
	require.True(t, strings.HasPrefix(err.Error(), prefix("dial", "tcp", "10.9.9.9:80")), "%q", err)

	// Bad arguments are refused before any socket.
	_, err = ns.Dial(ctx, "tcp", "no-port")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = ns.Listen(ctx, "tcp7", ":0")
	require.ErrorIs(t, err, netnsx.ErrInvalid)
	_, err = ns.Dial(ctx, "tcp7", "127.0.0.1:1")
	require.ErrorIs(t, err, netnsx.ErrInvalid)

	// A context that ends is the context's error.
	gone, stop := context.WithCancel(ctx)
	stop()
	_, err = ns.Dial(gone, "tcp", "127.0.0.1:1")
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, strings.HasPrefix(err.Error(), prefix("dial", "tcp", "127.0.0.1:1")), "%q", err)
	late, stopLate := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer stopLate()
	_, err = ns.Dial(late, "tcp", "127.0.0.1:1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestIntegrationUnixSockets: unix addresses pass through as they are: an abstract
// socket ("@name") belongs to the network namespace it was made in, so a dial from
// another namespace finds nothing.
func TestIntegrationUnixSockets(t *testing.T) {
	ns, other := netnsxtest.New(t), netnsxtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "@nstopo-test-" + netnsxtest.Name(0)

	l, err := ns.Listen(ctx, "unix", name)
	require.NoError(t, err)
	defer l.Close()
	out, err := exec.Command("ip", "netns", "exec", ns.Name(), "ss", "-Hxl").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), name, "ss in %s", ns)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	c, err := ns.Dial(ctx, "unix", name)
	require.NoError(t, err, "dial %s in %s", name, ns)
	c.Close()
	_, err = other.Dial(ctx, "unix", name)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "abstract sockets are per namespace")

	pc, err := ns.ListenPacket(ctx, "unixgram", name+"-dgram")
	require.NoError(t, err)
	defer pc.Close()
	c, err = ns.Dial(ctx, "unixgram", name+"-dgram")
	require.NoError(t, err)
	_, err = c.Write([]byte("hi"))
	require.NoError(t, err)
	c.Close()
	got := make([]byte, 8)
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, _, err := pc.ReadFrom(got)
	require.NoError(t, err)
	require.Equal(t, "hi", string(got[:n]))

	lp, err := ns.Listen(ctx, "unixpacket", name+"-seq")
	require.NoError(t, err)
	defer lp.Close()
	go func() {
		if c, err := lp.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err = ns.Dial(ctx, "unixpacket", name+"-seq")
	require.NoError(t, err)
	c.Close()

	_, err = ns.Listen(ctx, "unix", name)
	require.ErrorIs(t, err, netnsx.ErrExists)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
}
