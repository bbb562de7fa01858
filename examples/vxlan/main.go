// Command vxlan reproduces the article's hand-made VXLAN ("自己实现vxlan"): two hosts,
// 10.0.0.1 and 10.0.0.2, each with vxlan0 (id 42, dev eth0, dstport 0) flooding to the
// other, addressed 192.168.200.1/24 and .2/24; then host1 reaches host2 over the overlay.
//
// The hosts are namespaces joined by a veth standing in for the wire between them.
//
//	go run ./examples/vxlan                          # as root, or any user: a user namespace
//	go run ./examples/vxlan -keep                    # (root) leave it for `ip netns exec host1 ...`
//	go run ./examples/vxlan -clean                   # (root) remove what -keep left
//	go run ./examples/vxlan -draw dot | dot -Tsvg    # stdout is the picture, the report goes to stderr
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

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

func main() {
	// Not root? Go on in a user namespace of our own, where we may build namespaces.
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "vxlan:", err)
	}
	prefix := flag.String("prefix", "", "prefix for the namespace names, to run beside another copy")
	keep := flag.Bool("keep", false, "keep the topology for inspection (root only); remove it later with -clean")
	clean := flag.Bool("clean", false, "remove a topology left by -keep and exit (root only)")
	draw := flag.String("draw", "", `print the topology as a picture on stdout, the report on stderr: "dot" (Graphviz) or "mermaid"`)
	flag.Parse()
	if err := checkFlags(*keep, *clean, *draw); err != nil {
		fmt.Fprintln(os.Stderr, "vxlan:", err)
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
		fmt.Fprintln(os.Stderr, "vxlan: interrupted")
		os.Exit(130)
	case errors.Is(err, netnsx.ErrExists):
		fmt.Fprintf(os.Stderr, "vxlan: %v (left by -keep? remove it with -clean)\n", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "vxlan:", err)
	default:
		os.Exit(0)
	}
	os.Exit(1)
}

func names(prefix string) []string { return []string{prefix + "host1", prefix + "host2"} }

// run builds, checks, reports to w and, unless keep, removes the topology; with draw
// ("dot" or "mermaid") it also prints the picture to pic. It removes what it made on
// every error path, and stops when ctx ends.
func run(ctx context.Context, w, pic io.Writer, prefix string, keep bool, draw string) (err error) {
	start := time.Now()
	var hosts []*netnsx.NS
	defer func() {
		if err != nil || !keep {
			for _, h := range hosts {
				if derr := h.Delete(); derr != nil && err == nil {
					err = derr
				}
			}
		}
	}()
	for _, name := range names(prefix) {
		h, err := netnsx.New(name)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
	}
	underlay := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}

	// The wire: eth0 10.0.0.1/24 on host1, eth0 10.0.0.2/24 on host2.
	if _, err := veth.Create(veth.Config{
		A: veth.End{NS: hosts[0], Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(underlay[0], 24)}},
		B: veth.End{NS: hosts[1], Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(underlay[1], 24)}},
	}); err != nil {
		return err
	}

	for i, h := range hosts {
		// ip link add vxlan0 type vxlan id 42 dev eth0 dstport 0
		// ip addr add 192.168.200.N/24 dev vxlan0; ip link set up dev vxlan0
		dev, err := vxlan.Create(h, vxlan.Config{
			Name: "vxlan0", VNI: 42, Underlay: "eth0",
			Addrs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 200, byte(i + 1)}), 24)},
		})
		if err != nil {
			return err
		}
		// bridge fdb append to 00:00:00:00:00:00 dst <the other host> dev vxlan0
		if err := dev.AddRemote(underlay[1-i]); err != nil {
			return err
		}
	}
	built := time.Since(start)

	// ping -c4 192.168.200.2 from host1 — here a TCP exchange over the overlay.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, err := serve(ctx, hosts[1], "192.168.200.2:8081")
	if err != nil {
		return err
	}
	defer l.Close()
	msg := "hello from host1\n"
	if err := roundTrip(ctx, hosts[0], "192.168.200.2:8081", []byte(msg)); err != nil {
		return err
	}
	fmt.Fprintf(w, "built in %v: vxlan0 (VNI 42, UDP %d) on %s and %s, flooding to each other over eth0\n",
		built.Round(time.Microsecond), vxlan.LinuxPort, hosts[0].Name(), hosts[1].Name())
	for _, h := range hosts {
		dev, err := vxlan.Open(h, "vxlan0")
		if err != nil {
			return err
		}
		fdb, err := dev.FDB()
		if err != nil {
			return err
		}
		addrs, err := dev.Addrs()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: vxlan0 %v\n", h.Name(), addrs)
		for _, e := range fdb {
			fmt.Fprintf(w, "  fdb %s dst %s self=%v permanent=%v\n", e.HardwareAddr, e.Dst, e.Self, e.Permanent)
		}
	}
	fmt.Fprintf(w, "host1 -> 192.168.200.2:8081 over VXLAN: %q echoed\n", msg)
	if draw != "" {
		if err := drawTo(pic, draw, hosts...); err != nil {
			return err
		}
	}
	if keep {
		fmt.Fprintf(w, "kept; look with `ip netns exec %s bridge fdb show dev vxlan0`, remove with -clean\n", hosts[0].Name())
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
