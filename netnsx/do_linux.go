package netnsx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

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
	var fnErr error
	if err := ns.do(func() error { fnErr = fn(); return nil }); err != nil {
		return fmt.Errorf("netnsx: do %s: %w", ns, err)
	}
	return fnErr
}

// do is Do for this package's own calls, which wrap errors themselves: it returns fn's
// error as it is, and an error in entering the namespace mapped to its sentinel but with
// no prefix.
func (ns *NS) do(fn func() error) error {
	n, err := resolve(ns)
	if err != nil {
		return err
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
		return errdefs.Kernel(enterErr, "CAP_SYS_ADMIN")
	}
	return err
}

// Start starts cmd inside the namespace, as `ip netns exec` does: the child also gets a
// mount namespace of its own in which /sys is the namespace's sysfs (so /sys/class/net
// lists its links) and, for a named namespace, each file of /etc/netns/NAME is
// bind-mounted over its namesake in /etc (resolv.conf, hosts). Unlike ip, a bind that
// fails is an error, not a warning. The host handle starts cmd unchanged. Wait for it as
// usual. SysProcAttr.Pdeathsig is refused: the kernel ties it to the thread that forks
// the child, and that thread is discarded as soon as the child runs.
func (ns *NS) Start(cmd *exec.Cmd) error {
	if cmd == nil {
		return fmt.Errorf("netnsx: start in %s: %w", ns, errdefs.Invalid("nil command"))
	}
	n, err := resolve(ns)
	if err != nil {
		return fmt.Errorf("netnsx: start in %s: %w", ns, err)
	}
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Pdeathsig != 0 && !n.host {
		// The kernel sends it when the thread that forked the child ends, and the
		// thread that starts it here ends at once (its mount namespace is the child's).
		return fmt.Errorf("netnsx: start %s in %s: %w", cmd.Path, ns,
			errdefs.Invalid("SysProcAttr.Pdeathsig would fire at once: the starting thread is discarded"))
	}
	if n.host {
		if err := n.do(cmd.Start); err != nil {
			return fmt.Errorf("netnsx: start %s in %s: %w", cmd.Path, ns, err)
		}
		return nil
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

// maxStderr bounds how much of a command's standard error Output keeps for its error.
const maxStderr = 4096

// Output runs a program inside the namespace as Run does and returns its standard
// output, as Mininet's host.cmd() does (`ip netns exec NS name args...`). name is
// looked up in the PATH of this process. If the program fails, the error wraps its
// *exec.ExitError (whose Stderr holds up to 4 KiB of what it wrote there) and quotes
// that, trimmed; the standard output read so far is returned with it. ctx ends the
// program and every process of its group (SIGKILL), and the error then wraps ctx's
// error too.
func (ns *NS) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	if ctx == nil {
		return nil, fmt.Errorf("netnsx: output %s in %s: %w", name, ns, errdefs.Invalid("nil context"))
	}
	if name == "" {
		return nil, fmt.Errorf("netnsx: output in %s: %w", ns, errdefs.Invalid("empty program name"))
	}
	if _, err := resolve(ns); err != nil {
		return nil, fmt.Errorf("netnsx: output %s in %s: %w", name, ns, err)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	if errors.Is(cmd.Err, exec.ErrNotFound) {
		return nil, fmt.Errorf("netnsx: output %s in %s: %w: %w", name, ns, ErrNotFound, cmd.Err)
	}
	var stdout bytes.Buffer
	stderr := &headWriter{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// A group of its own, killed whole when ctx ends: a child of the program holding
	// its output open would otherwise keep Wait waiting after the program is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := ns.Start(cmd); err != nil {
		return nil, err // Start's, wrapped once
	}
	err := cmd.Wait()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ee.Stderr = stderr.buf
	}
	msg := strings.TrimSpace(string(stderr.buf))
	if stderr.cut {
		msg += " [...]"
	}
	if msg != "" {
		msg = ": " + strconv.Quote(msg)
	}
	if ctx.Err() != nil {
		return stdout.Bytes(), fmt.Errorf("netnsx: output %s in %s: %w (%w)%s", name, ns, err, ctx.Err(), msg)
	}
	return stdout.Bytes(), fmt.Errorf("netnsx: output %s in %s: %w%s", name, ns, err, msg)
}

// headWriter keeps the first max bytes written to it and discards the rest.
type headWriter struct {
	max int
	buf []byte
	cut bool
}

func (w *headWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max-len(w.buf))
	w.buf = append(w.buf, p[:n]...)
	w.cut = w.cut || n < len(p)
	return len(p), nil
}

// Dial connects from inside the namespace. A host name is resolved first, with the
// process's resolver in the host namespace; the addresses are then tried one after
// another inside the namespace (never in parallel: a racing goroutine would dial from
// the host). An IPv6 zone names an interface of this namespace (fe80::1%eth0); unix
// addresses pass through as they are. Errors name the call and the namespace, wrap the
// sentinel that fits (ErrInvalid for a bad address, ErrNotFound for an unknown zone or
// host) and keep the errno, net's error and ctx's error reachable.
func (ns *NS) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, err := ns.resolveAddrs(ctx, network, address)
	if err != nil {
		return nil, sockErr("dial", network, address, ns, err)
	}
	var c net.Conn
	err = ns.do(func() (err error) {
		var d net.Dialer
		for _, a := range addrs {
			if c, err = d.DialContext(ctx, network, a); err == nil || ctx.Err() != nil {
				break
			}
		}
		return err
	})
	if err != nil {
		return nil, sockErr("dial", network, address, ns, err)
	}
	return c, nil
}

// Listen listens inside the namespace. A host name is resolved as Dial resolves it, and
// the first of its addresses used, an IPv4 one if there is one, as net.Listen does.
// Errors are as Dial's; an address in use wraps ErrExists, one the namespace does not
// have ErrInvalid.
func (ns *NS) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	addrs, err := ns.resolveAddrs(ctx, network, address)
	if err != nil {
		return nil, sockErr("listen", network, address, ns, err)
	}
	var l net.Listener
	err = ns.do(func() (err error) {
		var lc net.ListenConfig
		l, err = lc.Listen(ctx, network, listenAddr(addrs))
		return err
	})
	if err != nil {
		return nil, sockErr("listen", network, address, ns, err)
	}
	return l, nil
}

// ListenPacket opens a packet socket (UDP, IP, unixgram) inside the namespace; its
// address and errors are as Listen's.
func (ns *NS) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	addrs, err := ns.resolveAddrs(ctx, network, address)
	if err != nil {
		return nil, sockErr("listen", network, address, ns, err)
	}
	var pc net.PacketConn
	err = ns.do(func() (err error) {
		var lc net.ListenConfig
		pc, err = lc.ListenPacket(ctx, network, listenAddr(addrs))
		return err
	})
	if err != nil {
		return nil, sockErr("listen", network, address, ns, err)
	}
	return pc, nil
}

// sockErr wraps an error of Dial, Listen or ListenPacket once: "netnsx: listen tcp
// 172.16.9.9:80 in ns1: netnsx: invalid argument: listen tcp ...: bind: cannot assign
// requested address".
func sockErr(op, network, address string, ns *NS, err error) error {
	var unknown net.UnknownNetworkError
	var bad *net.AddrError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		err = fmt.Errorf("%w: %w", ErrExists, err)
	case (errors.As(err, &unknown) || errors.As(err, &bad)) && !errors.Is(err, ErrInvalid):
		err = fmt.Errorf("%w: %w", ErrInvalid, err)
	default:
		hint := ""
		switch {
		case strings.HasPrefix(network, "ip"):
			hint = "CAP_NET_RAW"
		case op == "listen":
			hint = "CAP_NET_BIND_SERVICE below port 1024"
		}
		err = errdefs.Kernel(err, hint)
	}
	if address != "" {
		network += " " + address
	}
	return fmt.Errorf("netnsx: %s %s in %s: %w", op, network, ns, err)
}

// resolveAddrs turns an address of network into the literal addresses to use inside
// the namespace, in the resolver's order: a host name is resolved in the host (see Dial), and an
// IPv6 zone that names an interface becomes that interface's index here. Unix socket
// addresses, and those with no host, pass through.
func (ns *NS) resolveAddrs(ctx context.Context, network, address string) ([]string, error) {
	var port bool
	var family byte // 4, 6, or 0 for either
	base, _, _ := strings.Cut(network, ":")
	switch base {
	case "unix", "unixgram", "unixpacket":
		return []string{address}, nil
	case "tcp", "udp":
		port = true
	case "tcp4", "udp4":
		port, family = true, 4
	case "tcp6", "udp6":
		port, family = true, 6
	case "ip":
	case "ip4":
		family = 4
	case "ip6":
		family = 6
	default:
		return nil, errdefs.Invalid("unknown network %q", network)
	}
	host, service := address, ""
	if port {
		var err error
		if host, service, err = net.SplitHostPort(address); err != nil {
			return nil, errdefs.Invalid("%v", err)
		}
	}
	if host == "" {
		return []string{address}, nil
	}
	host, zone, _ := strings.Cut(host, "%")
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip} // as given: a v4-mapped address stays one
	} else if host == "" {
		return nil, errdefs.Invalid("address %q has a zone and no host", address)
	} else {
		if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			var dns *net.DNSError
			if errors.As(err, &dns) && dns.IsNotFound {
				return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return nil, err
		}
		for i := range ips {
			ips[i] = ips[i].Unmap()
		}
		ips = slices.DeleteFunc(ips, func(ip netip.Addr) bool {
			return family == 4 && !ip.Is4() || family == 6 && !ip.Is6()
		})
		if len(ips) == 0 {
			return nil, fmt.Errorf("%w: %s has no IPv%d address", ErrNotFound, host, family)
		}
	}
	index, err := ns.zoneIndex(zone)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		if ip.Is6() {
			ip = ip.WithZone(index)
		}
		out[i] = ip.String()
		if port {
			out[i] = net.JoinHostPort(out[i], service)
		}
	}
	return out, nil
}

// listenAddr picks the address net.Listen would: the first IPv4 one, else the first.
func listenAddr(addrs []string) string {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
			return a
		}
	}
	return addrs[0]
}
