// Command overlay builds a Docker-style multi-host overlay network, the design the
// article explains ("docker overlay network原理"), checks that containers reach each
// other over TCP on port 8081 — the port of the article's incident — prints the
// topology and a reachability matrix, and tears everything down.
//
//	go run ./examples/overlay                          # 3 hosts × 2 containers, as root or any user
//	go run ./examples/overlay -hosts 10 -containers 10
//	go run ./examples/overlay -hosts 100 -containers 100   # 10,101 namespaces; a sample of pairs
//	go run ./examples/overlay -keep                    # (root) inspect with ip netns exec ...
//	go run ./examples/overlay -clean                   # (root) remove what -keep left
//	go run ./examples/overlay -draw dot | dot -Tsvg > overlay.svg   # stdout is the picture, the report goes to stderr
//
// Each host is a namespace with an underlay eth0 plugged into a switch (a bridge in a
// namespace of its own), a br0 and a vxlan0 — one VNI for the overlay network —
// enslaved to br0. Each container is a namespace whose eth0 sits on its host's br0.
// Frames between hosts travel inside VXLAN to the remote host's underlay address. As
// in libnetwork, the state that grows with the mesh lives on each host's vxlan0, not
// in the containers: learning is off, and vxlan0 holds a flood entry for every other
// host and, for every remote container, a static FDB entry (its MAC → its host) and a
// permanent neighbour entry (its IP → its MAC), which vxlan0 uses to answer the
// containers' ARP requests itself (proxy ARP). Containers on one host find each other
// over br0. MTUs leave room for the 50-byte VXLAN header, so bulk transfers work.
// IPv6 is off in every namespace: its autoconfiguration multicast would be flooded to
// every port and every host.
//
// Up to 32 containers, every ordered pair is checked. Past that, a sample (see
// [sample]): every container from a container on another host, every pair of hosts
// once, and 100 random pairs; at 100 × 100 that is 15,050 of the 99,990,000 pairs.
// Each check forgets the two ARP entries it made: the kernel's table of learned
// entries is shared by every namespace on the machine and holds 1024
// (net.ipv4.neigh.default.gc_thresh3), so at most 2 per check in flight are alive.
//
// It exits 0 when every pair checked reached the other, 1 when one did not or
// something failed, 2 on a bad flag and 130 when interrupted: the first Ctrl-C stops
// the check and tears the topology down.
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
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
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
	flag.BoolVar(&o.check, "check", true, "check pairs of containers over TCP: all up to 32 containers, else a sample")
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

// A container holds no open handle: one is two file descriptors, and 10,000 of them
// would not fit under a common limit of 20,000. It is opened by name when needed.
type container struct {
	name string
	addr netip.Addr
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
	eth0       *netnsx.Link
	vxlan      *vxlan.Device
	containers []*container
}

type topology struct {
	underlay *netnsx.NS
	hosts    []*host

	mu   sync.Mutex
	made []string     // every namespace to delete, in creation order
	open []*netnsx.NS // the handles kept: the underlay's and the hosts'
}

// newNS makes a namespace with IPv6 off, before any of its interfaces exist.
func (t *topology) newNS(name string) (*netnsx.NS, error) {
	ns, err := netnsx.New(name)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.made = append(t.made, name)
	t.open = append(t.open, ns)
	t.mu.Unlock()
	return ns, ipv4Only(ns)
}

// ipv4Only turns IPv6 off in ns for the interfaces to come (default) and lo (all).
// Without it every new port's router solicitation, DAD and MLD multicast is flooded
// to every port of its bridge and, over VXLAN, to every other host.
func ipv4Only(ns *netnsx.NS) error {
	for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := ns.SetSysctl(key, "1"); err != nil && !errors.Is(err, netnsx.ErrNotFound) { // no IPv6 at all
			return err
		}
	}
	return nil
}

// release closes a handle that newNS made; the namespace stays, by name.
func (t *topology) release(ns *netnsx.NS) error {
	t.mu.Lock()
	if i := slices.Index(t.open, ns); i >= 0 {
		t.open = slices.Delete(t.open, i, i+1)
	}
	t.mu.Unlock()
	return ns.Close()
}

// teardown deletes every namespace, newest first; their links go with them.
func (t *topology) teardown() error {
	var errs []error
	for _, ns := range t.open {
		errs = append(errs, ns.Close())
	}
	for i := len(t.made) - 1; i >= 0; i-- {
		errs = append(errs, netnsx.Delete(t.made[i]))
	}
	return errors.Join(errs...)
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
	pairs := sample(o.hosts, o.containers)
	reach, err := t.check(ctx, o, pairs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: the matrix would only show it
	}
	n := o.hosts * o.containers
	how := ""
	if len(pairs) < n*(n-1) {
		how = fmt.Sprintf(" (a sample of the %d: every container from another host, every host pair, %d random)", n*(n-1), randomPairs)
	}
	if o.bulk > 0 && n > 1 {
		how += fmt.Sprintf(" and sent %d bytes from the first container to the last", o.bulk)
	}
	fmt.Fprintf(w, "checked %d ordered pairs%s in %v\n", len(reach), how, time.Since(start).Round(time.Microsecond))
	failed := t.printMatrix(w, reach, len(pairs) == n*(n-1))
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
	clear(errs)
	for i, h := range t.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.peer(h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// peer writes on h what Docker's agent learns from its k/v store: on vxlan0 a flood
// entry for every other host, and a static FDB entry and a permanent neighbour entry
// for every remote container. It also gives h's eth0 a permanent ARP entry for every
// other host. The kernel's table of learned neighbour entries is shared by all
// namespaces and holds 1024 (net.ipv4.neigh.default.gc_thresh3, settable only in the
// host); 100 hosts that all talk to each other would learn 9900 and drop packets with
// ENOBUFS. Permanent entries do not count.
func (t *topology) peer(h *host) error {
	var peers []vxlan.Peer
	for _, other := range t.hosts {
		if other == h {
			continue
		}
		if err := h.eth0.AddNeighbor(other.addr, mac(other.addr)); err != nil {
			return err
		}
		for _, c := range other.containers {
			peers = append(peers, vxlan.Peer{VTEP: other.addr, MAC: mac(c.addr), IP: c.addr})
		}
	}
	_, err := h.vxlan.SetPeers(peers)
	return err
}

func (t *topology) buildHost(h *host, n int, sw *bridge.Bridge, o options) error {
	var err error
	if h.ns, err = t.newNS(h.name); err != nil {
		return err
	}
	// The host's NIC, cabled to the underlay switch.
	nic, err := veth.Create(veth.Config{
		A:   veth.End{NS: t.underlay, Name: fmt.Sprintf("port%d", n), Master: sw.Link},
		B:   veth.End{NS: h.ns, Name: "eth0", HardwareAddr: mac(h.addr), Addrs: []netip.Prefix{netip.PrefixFrom(h.addr, 24)}},
		MTU: underMTU,
	})
	if err != nil {
		return err
	}
	h.eth0 = nic.B
	br, err := bridge.Create(h.ns, bridge.Config{Name: "br0", MTU: overlayMTU})
	if err != nil {
		return err
	}
	if h.vxlan, err = vxlan.Create(h.ns, vxlan.Config{
		Name: "vxlan0", VNI: vni, Port: vxlan.IANAPort, Underlay: "eth0", Local: h.addr,
		MTU: overlayMTU, Master: br.Link, DisableLearning: true, Proxy: true,
	}); err != nil {
		return err
	}
	for j := 1; j <= o.containers; j++ {
		c := &container{
			name: fmt.Sprintf("%sh%dc%d", o.prefix, n, j),
			addr: netip.AddrFrom4([4]byte{10, 200, byte(n), byte(j)}),
		}
		ns, err := t.newNS(c.name)
		if err == nil {
			_, err = veth.Create(veth.Config{
				A:   veth.End{NS: h.ns, Name: fmt.Sprintf("veth%d", j), Master: br.Link},
				B:   veth.End{NS: ns, Name: "eth0", HardwareAddr: mac(c.addr), Addrs: []netip.Prefix{netip.PrefixFrom(c.addr, 16)}},
				MTU: overlayMTU,
			})
		}
		if err != nil {
			return err
		}
		if err := t.release(ns); err != nil {
			return err
		}
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
		for i, c := range h.containers {
			if len(h.containers) > 4 && i > 0 && i < len(h.containers)-1 {
				if i == 1 {
					cs = append(cs, "…")
				}
				continue
			}
			cs = append(cs, fmt.Sprintf("%s %s", c.name, c.addr))
		}
		fmt.Fprintf(w, "  %s eth0 %s: br0 + vxlan0; %s\n", h.name, h.addr, strings.Join(cs, ", "))
	}
}

type pair struct{ from, to int }

const (
	allPairs    = 32 * 31 // up to 32 containers, every ordered pair is checked
	randomPairs = 100     // random pairs added to a sample
)

// sample returns the ordered pairs of containers to check, numbered host by host. Up
// to allPairs, all of them. Past that: every container from the next slot on the next
// host (so every container is reached once, from another host when there is one);
// one pair for every two hosts, in both directions by TCP's answer; and randomPairs
// more, all distinct.
func sample(hosts, containers int) []pair {
	n := hosts * containers
	var pairs []pair
	if n*(n-1) <= allPairs {
		for i := range n {
			for j := range n {
				if i != j {
					pairs = append(pairs, pair{i, j})
				}
			}
		}
		return pairs
	}
	seen := make(map[pair]bool)
	add := func(p pair) bool {
		if p.from == p.to || seen[p] {
			return false
		}
		seen[p] = true
		pairs = append(pairs, p)
		return true
	}
	for h := range hosts {
		for c := range containers {
			add(pair{(h+1)%hosts*containers + (c+1)%containers, h*containers + c})
		}
	}
	for a := range hosts {
		for b := a + 1; b < hosts; b++ {
			for range 8 { // another pair of containers if the ring has this one
				if add(pair{a*containers + mrand.IntN(containers), b*containers + mrand.IntN(containers)}) {
					break
				}
			}
		}
	}
	for want := len(pairs) + randomPairs; len(pairs) < want; {
		add(pair{mrand.IntN(n), mrand.IntN(n)})
	}
	return pairs
}

// check runs a TCP exchange for every pair, several at a time, then one bulk transfer
// between the first and the last container.
func (t *topology) check(ctx context.Context, o options, pairs []pair) (map[pair]error, error) {
	all := t.containers()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second+time.Duration(len(pairs))*10*time.Millisecond)
	defer cancel()
	listening := make([]bool, len(all))
	for _, p := range append(pairs, pair{0, len(all) - 1}) {
		if listening[p.to] {
			continue
		}
		listening[p.to] = true
		l, err := serve(ctx, all[p.to], netip.AddrPortFrom(all[p.to].addr, port).String())
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
				err := probe(pctx, all[p.from], all[p.to], []byte(msg))
				pcancel()
				mu.Lock()
				reach[p] = err
				mu.Unlock()
			}
		}()
	}
	for _, p := range pairs {
		jobs <- p
	}
	close(jobs)
	wg.Wait()

	if o.bulk > 0 && len(all) > 1 {
		payload := make([]byte, o.bulk)
		_, _ = rand.Read(payload)
		first, last := all[0], all[len(all)-1]
		if err := probe(ctx, first, last, payload); err != nil {
			return nil, fmt.Errorf("bulk transfer of %d bytes %s -> %s: %w", o.bulk, first.name, last.name, err)
		}
	}
	return reach, nil
}

// probe sends msg from src to dst's echo server and checks the answer, then removes
// the ARP entry each of them learned for the other: kept, 10,000 checks would fill the
// machine's table of learned entries (see topology.peer).
func probe(ctx context.Context, src, dst *container, msg []byte) error {
	ns, err := netnsx.Open(src.name)
	if err != nil {
		return err
	}
	defer ns.Close()
	err = roundTrip(ctx, ns, netip.AddrPortFrom(dst.addr, port).String(), msg)
	return errors.Join(err, forget(ns, dst.addr), forgetIn(dst.name, src.addr))
}

// forget removes the neighbour entry for ip from eth0 in ns; an entry that is not
// there is no error.
func forget(ns *netnsx.NS, ip netip.Addr) error {
	eth0, err := ns.Link("eth0")
	if err != nil {
		return err
	}
	if err := eth0.RemoveNeighbor(ip); err != nil && !errors.Is(err, netnsx.ErrNotFound) {
		return err
	}
	return nil
}

// forgetIn is forget in the namespace called name.
func forgetIn(name string, ip netip.Addr) error {
	ns, err := netnsx.Open(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	return forget(ns, ip)
}

// printMatrix prints, for each host (row) and container slot (column), how many other
// containers reached that container; with few containers also the full matrix. Past
// 16 hosts or 16 containers a host it says only how many containers were reached.
func (t *topology) printMatrix(w io.Writer, reach map[pair]error, complete bool) (failed int) {
	all := t.containers()
	in := make([]int, len(all))
	for p, err := range reach {
		if err == nil {
			in[p.to]++
		} else {
			failed++
		}
	}
	reached := 0
	for _, n := range in {
		if n > 0 {
			reached++
		}
	}
	fmt.Fprintf(w, "containers reached: %d of %d\n", reached, len(all))
	if len(t.hosts) > 16 || len(t.hosts[0].containers) > 16 {
		t.printFailures(w, reach)
		return failed
	}
	of := "checked"
	if complete {
		of = fmt.Sprintf("of %d", len(all)-1)
	}
	fmt.Fprintf(w, "reachability (containers that reached each one, %s):\n%8s", of, "")
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
	if complete && len(all) <= 12 {
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
	t.printFailures(w, reach)
	return failed
}

func (t *topology) printFailures(w io.Writer, reach map[pair]error) {
	all := t.containers()
	for p, err := range reach {
		if err != nil {
			fmt.Fprintf(w, "%s -> %s: %v\n", all[p.from].name, all[p.to].name, err)
		}
	}
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
func drawTo(w io.Writer, format string, names ...string) error {
	var nss []*netnsx.NS
	defer func() {
		for _, ns := range nss {
			_ = ns.Close()
		}
	}()
	for _, name := range names {
		ns, err := netnsx.Open(name)
		if err != nil {
			return err
		}
		nss = append(nss, ns)
	}
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

// serve echoes every connection to addr inside c until the listener is closed.
func serve(ctx context.Context, c *container, addr string) (net.Listener, error) {
	ns, err := netnsx.Open(c.name)
	if err != nil {
		return nil, err
	}
	l, err := ns.Listen(ctx, "tcp", addr)
	ns.Close() // the socket keeps the namespace
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
