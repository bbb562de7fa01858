// Command overlay builds a Docker-style multi-host overlay network, the design the
// article explains ("docker overlay network原理"), checks that every container reaches
// every other one over TCP on port 8081 — the port of the article's incident — prints
// the topology and a reachability matrix, and tears everything down.
//
//	go run ./examples/overlay                          # 3 hosts × 2 containers, as root or any user
//	go run ./examples/overlay -hosts 10 -containers 10
//	go run ./examples/overlay -keep                    # (root) inspect with ip netns exec ...
//	go run ./examples/overlay -clean                   # (root) remove what -keep left
//	go run ./examples/overlay -draw dot | dot -Tsvg > overlay.svg   # stdout is the picture, the report goes to stderr
//
// Each host is a namespace with an underlay eth0 plugged into a switch (a bridge in a
// namespace of its own), a br0 and a vxlan0 — one VNI for the overlay network —
// enslaved to br0. Each container is a namespace whose eth0 sits on its host's br0.
// Frames between hosts travel inside VXLAN to the remote host's underlay address,
// flooded to every other host (a full mesh of remotes) until the devices learn where
// each MAC lives. MTUs leave room for the 50-byte VXLAN header, so bulk transfers work.
//
// It exits 0 when every pair reached every other, 1 when one did not or something
// failed, 2 on a bad flag and 130 when interrupted: the first Ctrl-C stops the check
// and tears the topology down.
//
// The example uses only nstopo's public API: copy it out and change it.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

const (
	vni        = 4096 // Docker numbers its overlay networks from 4096 up
	underMTU   = 1500
	overlayMTU = underMTU - 50 // outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
	port       = 8081
)

type options struct {
	prefix            string
	hosts, containers int
	keep              bool
	bulk              int // bytes sent across the overlay in one transfer
	check             bool
	draw              string // "dot" or "mermaid": print the topology as a picture
}

func main() {
	// Not root? Go on in a user namespace of our own, where we may build namespaces.
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "overlay:", err)
	}
	var o options
	flag.IntVar(&o.hosts, "hosts", 3, "number of hosts (1-250)")
	flag.IntVar(&o.containers, "containers", 2, "containers per host (1-250)")
	flag.StringVar(&o.prefix, "prefix", "ov-", "prefix for the namespace names")
	flag.BoolVar(&o.keep, "keep", false, "keep the topology for inspection (root only); remove it later with -clean")
	flag.IntVar(&o.bulk, "bulk", 1<<20, "bytes of one bulk transfer between the first and the last container")
	flag.BoolVar(&o.check, "check", true, "check every pair of containers over TCP")
	flag.StringVar(&o.draw, "draw", "", `print the topology as a picture on stdout, the report on stderr: "dot" (Graphviz) or "mermaid"`)
	clean := flag.Bool("clean", false, "remove the namespaces with -prefix that -keep left, and exit (root only)")
	flag.Parse()
	err := checkFlags(o.keep, *clean, o.draw)
	if err == nil && (o.hosts < 1 || o.hosts > 250 || o.containers < 1 || o.containers > 250) {
		err = fmt.Errorf("-hosts and -containers must be 1..250, not %d and %d", o.hosts, o.containers)
	}
	if err == nil && *clean && o.prefix == "" {
		err = errors.New("-clean needs a -prefix: it removes every namespace whose name starts with it")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "overlay:", err)
		os.Exit(2)
	}
	if *clean {
		n, err := cleanup(o.prefix)
		fmt.Printf("removed %d namespaces\n", n)
		exit(context.Background(), err)
	}

	// The first Ctrl-C (or SIGTERM) cancels ctx: the run stops, tears down and exits 130.
	// A write to a closed pipe (output piped into head) fails instead of killing us.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	signal.Ignore(syscall.SIGPIPE)
	report, picture := io.Writer(os.Stdout), io.Writer(nil)
	if o.draw != "" {
		report, picture = os.Stderr, os.Stdout // stdout carries only the picture
	}
	exit(ctx, run(ctx, report, picture, o))
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
		fmt.Fprintln(os.Stderr, "overlay: interrupted")
		os.Exit(130)
	case errors.Is(err, netnsx.ErrExists):
		fmt.Fprintf(os.Stderr, "overlay: %v (left by -keep? remove it with -clean)\n", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "overlay:", err)
	default:
		os.Exit(0)
	}
	os.Exit(1)
}

type container struct {
	name string
	ns   *netnsx.NS
	addr netip.Addr
	eth0 *netnsx.Link
}

// mac derives a container's MAC from its IPv4 address, as Docker does (02:42:a.b.c.d).
func mac(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

type host struct {
	name       string
	ns         *netnsx.NS
	addr       netip.Addr // on the underlay
	vxlan      *vxlan.Device
	containers []*container
}

type topology struct {
	underlay *netnsx.NS
	hosts    []*host

	mu   sync.Mutex
	made []*netnsx.NS // everything to delete, in creation order
}

func (t *topology) newNS(name string) (*netnsx.NS, error) {
	ns, err := netnsx.New(name)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.made = append(t.made, ns)
	t.mu.Unlock()
	return ns, nil
}

// teardown deletes every namespace, newest first; their links go with them.
func (t *topology) teardown() error {
	return netnsx.DeleteAll(t.made...)
}

// run builds, checks, reports to w and, unless o.keep, removes the topology; with
// o.draw it also prints the picture to pic. It removes what it made on every error
// path, and stops when ctx ends.
func run(ctx context.Context, w, pic io.Writer, o options) (err error) {
	if o.hosts < 1 || o.hosts > 250 || o.containers < 1 || o.containers > 250 {
		return fmt.Errorf("-hosts and -containers must be 1..250, not %d and %d", o.hosts, o.containers)
	}
	t := &topology{}
	defer func() {
		if err != nil || !o.keep {
			start := time.Now()
			if terr := t.teardown(); terr != nil && err == nil {
				err = terr
			}
			if err == nil {
				fmt.Fprintf(w, "torn down in %v\n", time.Since(start).Round(time.Microsecond))
			}
		}
	}()

	start := time.Now()
	if err := t.build(o); err != nil {
		return err
	}
	built := time.Since(start)
	fmt.Fprintf(w, "built %d hosts × %d containers (%d namespaces) in %v\n",
		o.hosts, o.containers, len(t.made), built.Round(time.Microsecond))
	t.print(w)
	if o.draw != "" {
		if err := drawTo(pic, o.draw, t.made...); err != nil {
			return err
		}
	}

	if !o.check {
		return nil
	}
	start = time.Now()
	reach, err := t.check(ctx, o)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: the matrix would only show it
	}
	fmt.Fprintf(w, "checked %d ordered pairs in %v\n", len(reach), time.Since(start).Round(time.Microsecond))
	failed := t.printMatrix(w, reach)
	if o.keep {
		fmt.Fprintf(w, "kept; try `ip netns exec %s ip -d link show vxlan0`, remove with -clean\n", t.hosts[0].name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d pairs unreachable", failed, len(reach))
	}
	return nil
}

// build makes the underlay switch, then every host with its containers in parallel,
// then the full mesh of VXLAN remotes.
func (t *topology) build(o options) error {
	var err error
	if t.underlay, err = t.newNS(o.prefix + "underlay"); err != nil {
		return err
	}
	sw, err := bridge.Create(t.underlay, bridge.Config{Name: "sw0"})
	if err != nil {
		return err
	}
	t.hosts = make([]*host, o.hosts)
	errs := make([]error, o.hosts)
	var wg sync.WaitGroup
	for i := range t.hosts {
		t.hosts[i] = &host{
			name: fmt.Sprintf("%shost%d", o.prefix, i+1),
			addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}),
		}
		wg.Add(1)
		go func(h *host, i int) {
			defer wg.Done()
			errs[i] = t.buildHost(h, i+1, sw, o)
		}(t.hosts[i], i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Each host floods to every other: the flood list Docker keeps in its k/v store.
	for _, h := range t.hosts {
		var remotes []netip.Addr
		for _, other := range t.hosts {
			if other != h {
				remotes = append(remotes, other.addr)
			}
		}
		if err := h.vxlan.SetRemotes(remotes); err != nil {
			return err
		}
	}
	return t.staticARP()
}

// staticARP gives every container a permanent ARP entry for every other one. The
// kernel's neighbour table is shared by all namespaces and holds 1024 learned entries
// by default (net.ipv4.neigh.default.gc_thresh3, settable only in the host); a full
// mesh of 100 containers learns 9900, and the overflow drops packets with ENOBUFS.
// Permanent entries do not count, which is also how Docker's overlay avoids ARP.
func (t *topology) staticARP() error {
	all := t.containers()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, other := range all {
				if other != c {
					if err := c.eth0.AddNeighbor(other.addr, mac(other.addr)); err != nil {
						errs[i] = err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *topology) buildHost(h *host, n int, sw *bridge.Bridge, o options) error {
	var err error
	if h.ns, err = t.newNS(h.name); err != nil {
		return err
	}
	// The host's NIC, cabled to the underlay switch.
	if _, err := veth.Create(veth.Config{
		A:   veth.End{NS: t.underlay, Name: fmt.Sprintf("port%d", n), Master: sw.Link},
		B:   veth.End{NS: h.ns, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(h.addr, 24)}},
		MTU: underMTU,
	}); err != nil {
		return err
	}
	br, err := bridge.Create(h.ns, bridge.Config{Name: "br0", MTU: overlayMTU})
	if err != nil {
		return err
	}
	if h.vxlan, err = vxlan.Create(h.ns, vxlan.Config{
		Name: "vxlan0", VNI: vni, Port: vxlan.IANAPort, Underlay: "eth0", Local: h.addr,
		MTU: overlayMTU, Master: br.Link,
	}); err != nil {
		return err
	}
	for j := 1; j <= o.containers; j++ {
		c := &container{
			name: fmt.Sprintf("%sh%dc%d", o.prefix, n, j),
			addr: netip.AddrFrom4([4]byte{10, 200, byte(n), byte(j)}),
		}
		if c.ns, err = t.newNS(c.name); err != nil {
			return err
		}
		p, err := veth.Create(veth.Config{
			A:   veth.End{NS: h.ns, Name: fmt.Sprintf("veth%d", j), Master: br.Link},
			B:   veth.End{NS: c.ns, Name: "eth0", HardwareAddr: mac(c.addr), Addrs: []netip.Prefix{netip.PrefixFrom(c.addr, 16)}},
			MTU: overlayMTU,
		})
		if err != nil {
			return err
		}
		c.eth0 = p.B
		h.containers = append(h.containers, c)
	}
	return nil
}

func (t *topology) containers() []*container {
	var all []*container
	for _, h := range t.hosts {
		all = append(all, h.containers...)
	}
	return all
}

func (t *topology) print(w io.Writer) {
	fmt.Fprintf(w, "underlay switch sw0 in %s, 10.0.0.0/24; overlay 10.200.0.0/16, VNI %d, UDP %d, MTU %d\n",
		t.underlay.Name(), vni, vxlan.IANAPort, overlayMTU)
	for _, h := range t.hosts {
		var cs []string
		for _, c := range h.containers {
			cs = append(cs, fmt.Sprintf("%s %s", c.name, c.addr))
		}
		fmt.Fprintf(w, "  %s eth0 %s: br0 + vxlan0; %s\n", h.name, h.addr, strings.Join(cs, ", "))
	}
}

type pair struct{ from, to int }

// check runs a TCP exchange for every ordered pair of containers, several at a time,
// then one bulk transfer between the first and the last container.
func (t *topology) check(ctx context.Context, o options) (map[pair]error, error) {
	all := t.containers()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, c := range all {
		l, err := serve(ctx, c.ns, netip.AddrPortFrom(c.addr, port).String())
		if err != nil {
			return nil, err
		}
		defer l.Close()
	}
	reach := make(map[pair]error)
	var mu sync.Mutex
	jobs := make(chan pair)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				msg := fmt.Sprintf("%s -> %s\n", all[p.from].name, all[p.to].name)
				err := roundTrip(pctx, all[p.from].ns, netip.AddrPortFrom(all[p.to].addr, port).String(), []byte(msg))
				pcancel()
				mu.Lock()
				reach[p] = err
				mu.Unlock()
			}
		}()
	}
	for i := range all {
		for j := range all {
			if i != j {
				jobs <- pair{i, j}
			}
		}
	}
	close(jobs)
	wg.Wait()

	if o.bulk > 0 && len(all) > 1 {
		payload := make([]byte, o.bulk)
		_, _ = rand.Read(payload)
		first, last := all[0], all[len(all)-1]
		if err := roundTrip(ctx, first.ns, netip.AddrPortFrom(last.addr, port).String(), payload); err != nil {
			return nil, fmt.Errorf("bulk transfer of %d bytes %s -> %s: %w", o.bulk, first.name, last.name, err)
		}
	}
	return reach, nil
}

// printMatrix prints, for each host (row) and container slot (column), how many other
// containers reached that container; with few containers also the full matrix.
func (t *topology) printMatrix(w io.Writer, reach map[pair]error) (failed int) {
	all := t.containers()
	in := make([]int, len(all))
	for p, err := range reach {
		if err == nil {
			in[p.to]++
		} else {
			failed++
		}
	}
	fmt.Fprintf(w, "reachability (containers that reached each one, of %d):\n%8s", len(all)-1, "")
	for j := range t.hosts[0].containers {
		fmt.Fprintf(w, " %6s", fmt.Sprintf("c%d", j+1))
	}
	fmt.Fprintln(w)
	k := 0
	for i, h := range t.hosts {
		fmt.Fprintf(w, "%8s", fmt.Sprintf("host%d", i+1))
		for range h.containers {
			fmt.Fprintf(w, " %6s", fmt.Sprintf("%d", in[k]))
			k++
		}
		fmt.Fprintln(w)
	}
	if len(all) <= 12 {
		fmt.Fprintf(w, "pairs (row reaches column):\n%10s", "")
		for _, c := range all {
			fmt.Fprintf(w, " %6s", short(c, t))
		}
		fmt.Fprintln(w)
		for i, c := range all {
			fmt.Fprintf(w, "%10s", short(c, t))
			for j := range all {
				mark := "-"
				if i != j {
					mark = "ok"
					if reach[pair{i, j}] != nil {
						mark = "FAIL"
					}
				}
				fmt.Fprintf(w, " %6s", mark)
			}
			fmt.Fprintln(w)
		}
	}
	for p, err := range reach {
		if err != nil {
			fmt.Fprintf(w, "%s -> %s: %v\n", all[p.from].name, all[p.to].name, err)
		}
	}
	return failed
}

func short(c *container, t *topology) string {
	return strings.TrimPrefix(c.name, strings.TrimSuffix(t.underlay.Name(), "underlay"))
}

// cleanup deletes every namespace a kept topology with this prefix left.
func cleanup(prefix string) (int, error) {
	names, err := netnsx.List()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			if err := netnsx.Delete(name); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
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
