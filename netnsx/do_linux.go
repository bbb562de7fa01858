package netnsx

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"

	"github.com/nstopo/nstopo/internal/errdefs"
	"github.com/nstopo/nstopo/internal/rtnl"
)

// Do runs fn on a fresh goroutine locked to an OS thread inside the namespace, and
// returns fn's error. The calling goroutine's thread never changes namespace. Goroutines
// that fn starts run in the host namespace; sockets fn opens stay in this one.
func (ns *NS) Do(fn func() error) error {
	if fn == nil {
		return fmt.Errorf("netnsx: do %s: %w", ns, errdefs.Invalid("nil function"))
	}
	n, err := resolve(ns)
	if err != nil {
		return fmt.Errorf("netnsx: do %s: %w", ns, err)
	}
	var enterErr error
	into := func(orig int) (moved bool, err error) {
		enterErr = n.useRaw(func(_ *rtnl.Conn, fd int) error {
			moved, err = switchTo(fd, orig)
			return err
		})
		return moved, enterErr
	}
	err = onThread(into, fn)
	if enterErr != nil {
		return fmt.Errorf("netnsx: do %s: %w", ns, errdefs.Kernel(enterErr, "CAP_SYS_ADMIN"))
	}
	return err
}

// Start starts cmd inside the namespace, as `ip netns exec` does: the child also gets a
// mount namespace of its own in which /sys is the namespace's sysfs (so /sys/class/net
// lists its links) and, for a named namespace, each file of /etc/netns/NAME is
// bind-mounted over its namesake in /etc (resolv.conf, hosts). Unlike ip, a bind that
// fails is an error, not a warning. The host handle starts cmd unchanged. Wait for it as
// usual.
func (ns *NS) Start(cmd *exec.Cmd) error {
	if cmd == nil {
		return fmt.Errorf("netnsx: start in %s: %w", ns, errdefs.Invalid("nil command"))
	}
	n, err := resolve(ns)
	if err != nil {
		return fmt.Errorf("netnsx: start in %s: %w", ns, err)
	}
	if n.host {
		return n.Do(cmd.Start)
	}
	if err := n.startExec(cmd); err != nil {
		return fmt.Errorf("netnsx: start %s in %s: %w", cmd.Path, ns, errdefs.Kernel(err, "CAP_SYS_ADMIN"))
	}
	return nil
}

// Run runs cmd inside the namespace and waits for it.
func (ns *NS) Run(cmd *exec.Cmd) error {
	if err := ns.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Dial connects from inside the namespace. A host name is resolved first, with the
// process's resolver in the host namespace; the addresses are then tried one after
// another inside the namespace (never in parallel: a racing goroutine would dial from
// the host).
func (ns *NS) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, err := resolveAddrs(ctx, address)
	if err != nil {
		return nil, fmt.Errorf("netnsx: dial %s in %s: %w", address, ns, err)
	}
	var c net.Conn
	err = ns.Do(func() error {
		var d net.Dialer
		var err error
		for _, a := range addrs {
			if c, err = d.DialContext(ctx, network, a); err == nil {
				return nil
			}
		}
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (ns *NS) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() (err error) {
		var lc net.ListenConfig
		l, err = lc.Listen(ctx, network, address)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket (UDP, IP, unixgram) inside the namespace.
func (ns *NS) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := ns.Do(func() (err error) {
		var lc net.ListenConfig
		pc, err = lc.ListenPacket(ctx, network, address)
		return err
	})
	return pc, err
}

// resolveAddrs turns host:port into literal ip:port strings.
func resolveAddrs(ctx context.Context, address string) ([]string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, errdefs.Invalid("%v", err)
	}
	if host == "" {
		return []string{address}, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{address}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip.Unmap().String(), port)
	}
	return out, nil
}
