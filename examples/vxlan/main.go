// Command vxlan reproduces the article's hand-made VXLAN ("自己实现vxlan"): two hosts,
// 10.0.0.1 and 10.0.0.2, each with vxlan0 (id 42, dev eth0, dstport 0) flooding to the
// other, addressed 192.168.200.1/24 and .2/24; then host1 reaches host2 over the overlay.
//
// The hosts are namespaces joined by a veth standing in for the wire between them.
//
//	go run ./examples/vxlan          # as root
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/nstopo/nstopo/internal/cli"
	"github.com/nstopo/nstopo/internal/echo"
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
	cli.Defer() // teardown runs even when piped into head or interrupted once
	prefix := flag.String("prefix", "", "prefix for the namespace names")
	keep := flag.Bool("keep", false, "keep the topology for inspection (remove with `ip netns del`)")
	flag.Parse()
	if userns.Inside() && *keep {
		fmt.Fprintln(os.Stderr, "vxlan: -keep needs root: without it the run is in a user namespace of its own, which ends with it")
		os.Exit(2)
	}
	if err := run(os.Stdout, *prefix, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "vxlan:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, prefix string, keep bool) (err error) {
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
	for _, name := range []string{prefix + "host1", prefix + "host2"} {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := echo.Serve(ctx, hosts[1], "192.168.200.2:8081")
	if err != nil {
		return err
	}
	defer l.Close()
	msg := "hello from host1\n"
	if err := echo.RoundTrip(ctx, hosts[0], "192.168.200.2:8081", []byte(msg)); err != nil {
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
	return nil
}
