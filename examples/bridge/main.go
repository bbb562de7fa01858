// Command bridge builds the article's local topology ("手动创建一个网络拓扑") with
// nstopo calls instead of `ip` and `brctl`, proves that container-1 reaches container-2
// over TCP, prints what it built and tears it all down.
//
//	go run ./examples/bridge                          # as root, or any user: a user namespace
//	go run ./examples/bridge -keep                    # (root) leave it for `ip netns exec container-1 ...`
//	go run ./examples/bridge -clean                   # (root) remove what -keep left
//	go run ./examples/bridge -draw dot | dot -Tsvg    # stdout is the picture, the report goes to stderr
//
// The article puts br0 in the host's own namespace; here a namespace called "host"
// stands in for the host, so the example never touches the machine's real network.
//
// It exits 0 when the check passed, 1 when something failed, 2 on a bad flag and 130
// when interrupted: the first Ctrl-C stops the check and tears the topology down.
//
// The example uses only nstopo's public API: copy it out and change it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
	"github.com/nstopo/nstopo/veth"
)

func main() {
	// Not root? Go on in a user namespace of our own, where we may build namespaces.
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
	}
	prefix := flag.String("prefix", "", "prefix for the namespace names, to run beside another copy")
	keep := flag.Bool("keep", false, "keep the topology for inspection (root only); remove it later with -clean")
	clean := flag.Bool("clean", false, "remove a topology left by -keep and exit (root only)")
	draw := flag.String("draw", "", `print the topology as a picture on stdout, the report on stderr: "dot" (Graphviz) or "mermaid"`)
	flag.Parse()
	if err := checkFlags(*keep, *clean, *draw); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(2)
	}
	if *clean {
		var errs []error
		for _, n := range names(*prefix) {
			if err := netnsx.Delete(n); err != nil && !errors.Is(err, netnsx.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		exit(context.Background(), errors.Join(errs...))
	}

	// The first Ctrl-C (or SIGTERM) cancels ctx: the run stops, tears down and exits 130.
	// A write to a closed pipe (output piped into head) fails instead of killing us.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGPIPE)
	report, picture := io.Writer(os.Stdout), io.Writer(nil)
	if *draw != "" {
		report, picture = os.Stderr, os.Stdout // stdout carries only the picture
	}
	exit(ctx, run(ctx, report, picture, *prefix, *keep, *draw))
}

// checkFlags refuses bad flags before anything is built.
func checkFlags(keep, clean bool, draw string) error {
	switch {
	case draw != "" && draw != "dot" && draw != "mermaid":
		return fmt.Errorf(`-draw must be "dot" or "mermaid", not %q`, draw)
	case keep && clean:
		return errors.New("-keep and -clean exclude each other")
	case (keep || clean) && (userns.Inside() || !userns.Privileged()):
		name := "-keep"
		if clean {
			name = "-clean"
		}
		return fmt.Errorf("%s needs root: without it a run lives in a user namespace of its own, "+
			"which ends with it, so nothing stays behind and nothing kept by root is seen", name)
	}
	return nil
}

// exit ends the program: 130 when ctx was interrupted, 1 on err, else 0.
func exit(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "bridge: interrupted")
		os.Exit(130)
	case errors.Is(err, netnsx.ErrExists):
		fmt.Fprintf(os.Stderr, "bridge: %v (left by -keep? remove it with -clean)\n", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bridge:", err)
	default:
		os.Exit(0)
	}
	os.Exit(1)
}

func names(prefix string) []string {
	return []string{prefix + "host", prefix + "container-1", prefix + "container-2"}
}

// run builds, checks, reports to w and, unless keep, removes the topology; with draw
// ("dot" or "mermaid") it also prints the picture to pic. It removes what it made on
// every error path, and stops when ctx ends.
func run(ctx context.Context, w, pic io.Writer, prefix string, keep bool, draw string) (err error) {
	start := time.Now()
	var made []*netnsx.NS
	defer func() {
		if err != nil || !keep {
			for _, ns := range made {
				if derr := ns.Delete(); derr != nil && err == nil {
					err = derr
				}
			}
		}
	}()

	// ip netns add container-1; ip netns add container-2 (and a stand-in for the host)
	n := names(prefix)
	for _, name := range n {
		ns, err := netnsx.New(name)
		if err != nil {
			return err
		}
		made = append(made, ns)
	}
	host, c1, c2 := made[0], made[1], made[2]

	// brctl addbr br0; ip addr add 172.16.1.1/16 dev br0; ip link set dev br0 up
	br, err := bridge.Create(host, bridge.Config{
		Name:  "br0",
		Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.1.1/16")},
	})
	if err != nil {
		return err
	}

	// ip link add veth1 type veth peer name veth1p; ip link set dev veth1 master br0;
	// ip link set veth1p netns container-1; ... set veth1p name eth0; addr add; up
	for i, c := range []*netnsx.NS{c1, c2} {
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: host, Name: fmt.Sprintf("veth%d", i+1), Master: br.Link},
			B: veth.End{NS: c, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, 1, byte(i + 2)}), 16)}},
		})
		if err != nil {
			return err
		}
	}
	built := time.Since(start)

	// ip netns exec container-1 ping 172.16.1.3 — here a TCP exchange on the incident's port.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, err := serve(ctx, c2, "172.16.1.3:8081")
	if err != nil {
		return err
	}
	defer l.Close()
	msg := "hello from container-1\n"
	if err := roundTrip(ctx, c1, "172.16.1.3:8081", []byte(msg)); err != nil {
		return err
	}

	fmt.Fprintf(w, "built in %v: bridge br0 in %s, container-1 and container-2 joined by veth1 and veth2\n", built.Round(time.Microsecond), host.Name())
	for _, ns := range made {
		if err := describe(w, ns); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s -> 172.16.1.3:8081 in %s: %q echoed\n", n[1], n[2], msg)
	if draw != "" {
		if err := drawTo(pic, draw, made...); err != nil {
			return err
		}
	}
	if keep {
		fmt.Fprintf(w, "kept; look with `ip netns exec %s ip addr`, remove with -clean\n", n[1])
	}
	return nil
}

// describe prints a namespace's links as `ip -br addr` would.
func describe(w io.Writer, ns *netnsx.NS) error {
	links, err := ns.Links()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s:\n", ns.Name())
	for _, l := range links {
		addrs, err := l.Addrs()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-8s %-7s %v\n", l.Name(), l.Kind(), addrs)
	}
	return nil
}

// drawTo prints the namespaces as a picture: format "dot" (Graphviz) or "mermaid".
func drawTo(w io.Writer, format string, nss ...*netnsx.NS) error {
	snap, err := netnsx.Inspect(nss...)
	if err != nil {
		return err
	}
	pic := snap.Mermaid()
	if format == "dot" {
		pic = snap.DOT()
	}
	_, err = io.WriteString(w, pic)
	return err
}

// serve echoes every connection to addr inside ns until the listener is closed.
func serve(ctx context.Context, ns *netnsx.NS, addr string) (net.Listener, error) {
	l, err := ns.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l, nil
}

// roundTrip sends msg from inside ns to addr and checks that the same bytes come back.
func roundTrip(ctx context.Context, ns *netnsx.NS, addr string, msg []byte) error {
	c, err := ns.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })() // ctx ends: unblock
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("echo from %s: %w", addr, err)
	}
	if string(got) != string(msg) {
		return fmt.Errorf("%s echoed %d bytes, want the %d sent", addr, len(got), len(msg))
	}
	return nil
}
