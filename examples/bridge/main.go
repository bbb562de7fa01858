// Command bridge builds the article's local topology ("手动创建一个网络拓扑") with
// nstopo calls instead of `ip` and `brctl`, proves that container-1 reaches container-2
// over TCP, prints what it built and tears it all down.
//
//	go run ./examples/bridge          # as root
//	go run ./examples/bridge -keep    # leave it for `ip netns exec container-1 ...`
//
// The article puts br0 in the host's own namespace; here a namespace called "host"
// stands in for the host, so the example never touches the machine's real network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/cli"
	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
	"github.com/nstopo/nstopo/veth"
)

func main() {
	// Not root? Go on in a user namespace of our own, where we may build namespaces.
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
	}
	cli.Defer() // teardown runs even when piped into head or interrupted once
	prefix := flag.String("prefix", "", "prefix for the namespace names, to run beside another copy")
	keep := flag.Bool("keep", false, "keep the topology for inspection; remove it later with -clean")
	clean := flag.Bool("clean", false, "remove a topology left by -keep and exit")
	draw := flag.String("draw", "", `also print the topology as a picture: "dot" (Graphviz) or "mermaid"`)
	flag.Parse()
	if userns.Inside() && *keep {
		fmt.Fprintln(os.Stderr, "bridge: -keep needs root: without it the run is in a user namespace of its own, which ends with it")
		os.Exit(2)
	}
	if *clean {
		for _, n := range names(*prefix) {
			if err := netnsx.Delete(n); err != nil && !errors.Is(err, netnsx.ErrNotFound) {
				fmt.Fprintln(os.Stderr, err)
			}
		}
		return
	}
	if err := run(os.Stdout, *prefix, *keep, *draw); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(1)
	}
}

func names(prefix string) []string {
	return []string{prefix + "host", prefix + "container-1", prefix + "container-2"}
}

// run builds, checks, prints and, unless keep, removes the topology. It removes what it
// made on every error path.
func run(w io.Writer, prefix string, keep bool, draw string) (err error) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := echo.Serve(ctx, c2, "172.16.1.3:8081")
	if err != nil {
		return err
	}
	defer l.Close()
	msg := "hello from container-1\n"
	if err := echo.RoundTrip(ctx, c1, "172.16.1.3:8081", []byte(msg)); err != nil {
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
		return cli.Draw(w, draw, made...)
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
