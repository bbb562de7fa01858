// Command incident replays the incident at the start of the article ("docker swarm
// 遇到的一次坑") on a simulated swarm, and diagnoses it with nstopo the way the author
// did by hand: who reaches whom, the packet filter inside the container's sandbox with
// its counters, a capture on the container's eth0, the author's workaround and what it
// truly does, then the real fix.
//
//	go run ./examples/incident                   # as root (or any user: a user namespace)
//	go run ./examples/incident -pcap /tmp/inc    # keep the captures; tcpdump -nr /tmp/inc/*.pcap
//	go run ./examples/incident -scenario mtu     # the classic VXLAN MTU blackhole instead
//	go run ./examples/incident -keep             # (root) keep the healed swarm; remove it with -clean
//	go run ./examples/incident -draw dot | dot -Tsvg > swarm.svg   # stdout is the picture, the story goes to stderr
//
// Three hosts, swarm00, swarm01 and swarm02, are namespaces cabled to an underlay switch
// (a bridge in a namespace of its own). Each has a br0 and a vxlan0 (VNI 4096) on it, a
// full mesh of flood entries, like examples/overlay. container-1 (the article's
// schemaregistry) and container-2 run on swarm00 and serve TCP 8081; a client runs on
// swarm01 and one on swarm02 (the article's sourcemysql).
//
// The program exits 0 when every observation came out as the story tells it, 1 when
// one did not or something failed, 2 on a bad flag and 130 when interrupted: the first
// Ctrl-C stops the story and tears the swarm down.
//
// The example uses only nstopo's public API: copy it out and change it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/fault"
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

	dialTimeout = 3 * time.Second // long enough for two SYN retransmissions
	bulk        = 1 << 20         // the MTU scenario's transfer
	bulkTimeout = 5 * time.Second
)

type options struct {
	prefix   string
	scenario string // "reset" (the article's) or "mtu"
	pcap     string // directory for the captures; "": don't keep them
	keep     bool
	draw     string // "dot" or "mermaid"
}

func main() {
	// Not root? Go on in a user namespace of our own, where we may build namespaces.
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "incident:", err)
	}
	var o options
	flag.StringVar(&o.prefix, "prefix", "inc-", "prefix for the namespace names")
	flag.StringVar(&o.scenario, "scenario", "reset", `"reset": the article's handshakes answered by RST; "mtu": the VXLAN MTU blackhole`)
	flag.StringVar(&o.pcap, "pcap", "", "keep the captures in this directory, as .pcap files for tcpdump -r")
	flag.BoolVar(&o.keep, "keep", false, "keep the (healed) topology for inspection (root only); remove it later with -clean")
	flag.StringVar(&o.draw, "draw", "", `print the topology as a picture on stdout, the story on stderr: "dot" (Graphviz) or "mermaid"`)
	clean := flag.Bool("clean", false, "remove the namespaces with -prefix that -keep left, and exit (root only)")
	flag.Parse()
	err := checkFlags(o.keep, *clean, o.draw)
	if err == nil && o.scenario != "reset" && o.scenario != "mtu" {
		err = fmt.Errorf(`-scenario must be "reset" or "mtu", not %q`, o.scenario)
	}
	if err == nil && *clean && o.prefix == "" {
		err = errors.New("-clean needs a -prefix: it removes every namespace whose name starts with it")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "incident:", err)
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
		fmt.Fprintln(os.Stderr, "incident: interrupted")
		os.Exit(130)
	case errors.Is(err, netnsx.ErrExists):
		fmt.Fprintf(os.Stderr, "incident: %v (left by -keep? remove it with -clean)\n", err)
	case err != nil:
		fmt.Fprintln(os.Stderr, "incident:", err)
	default:
		os.Exit(0)
	}
	os.Exit(1)
}

// node is a container: a namespace whose eth0 sits on its host's br0.
type node struct {
	label string // as the story calls it: "container-1", "swarm02 client"
	ns    *netnsx.NS
	addr  netip.Addr
	eth0  *netnsx.Link
	peer  *netnsx.Link // eth0's other end, on the host's br0
}

func (n *node) service() string { return netip.AddrPortFrom(n.addr, port).String() }

type host struct {
	name  string
	ns    *netnsx.NS
	addr  netip.Addr // on the underlay
	vxlan *vxlan.Device
	br0   *bridge.Bridge
}

type lab struct {
	made  []*netnsx.NS // everything to delete, in creation order
	hosts [3]*host
	// c1 and c2 run on swarm00, cl1 on swarm01, cl2 on swarm02.
	c1, c2, cl1, cl2 *node
	// bad lists the observations that did not come out as the story tells.
	bad []string
}

// mac derives a container's MAC from its IPv4 address, as Docker does (02:42:a.b.c.d).
func mac(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func (l *lab) newNS(name string) (*netnsx.NS, error) {
	ns, err := netnsx.New(name)
	if err != nil {
		return nil, err
	}
	l.made = append(l.made, ns)
	// IPv4 only, as Docker's networks are unless asked: the captures then hold the
	// story's packets, not IPv6 autoconfiguration chatter.
	for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := ns.SetSysctl(key, "1"); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

// build makes the swarm. Containers' eth0 get containerMTU: the overlay's 1450 as
// Docker sets it, or 1500 for the MTU scenario.
func (l *lab) build(prefix string, containerMTU int) error {
	underlay, err := l.newNS(prefix + "underlay")
	if err != nil {
		return err
	}
	sw, err := bridge.Create(underlay, bridge.Config{Name: "sw0"})
	if err != nil {
		return err
	}
	for i := range l.hosts {
		h := &host{name: fmt.Sprintf("swarm%02d", i), addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})}
		l.hosts[i] = h
		if h.ns, err = l.newNS(prefix + h.name); err != nil {
			return err
		}
		if _, err := veth.Create(veth.Config{
			A:   veth.End{NS: underlay, Name: fmt.Sprintf("port%d", i), Master: sw.Link},
			B:   veth.End{NS: h.ns, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(h.addr, 24)}},
			MTU: underMTU,
		}); err != nil {
			return err
		}
		if h.br0, err = bridge.Create(h.ns, bridge.Config{Name: "br0", MTU: overlayMTU}); err != nil {
			return err
		}
		if h.vxlan, err = vxlan.Create(h.ns, vxlan.Config{
			Name: "vxlan0", VNI: vni, Port: vxlan.IANAPort, Underlay: "eth0", Local: h.addr,
			MTU: overlayMTU, Master: h.br0.Link,
		}); err != nil {
			return err
		}
	}
	// The article's addresses: container-1 was 10.255.0.18 on the ingress network.
	place := []struct {
		n    **node
		name string
		h    int
		last byte
	}{
		{&l.c1, "container-1", 0, 18},
		{&l.c2, "container-2", 0, 19},
		{&l.cl1, "swarm01 client", 1, 21},
		{&l.cl2, "swarm02 client", 2, 22},
	}
	for i, p := range place {
		n := &node{label: p.name, addr: netip.AddrFrom4([4]byte{10, 255, 0, p.last})}
		if n.ns, err = l.newNS(prefix + strings.ReplaceAll(p.name, " ", "-")); err != nil {
			return err
		}
		pair, err := veth.Create(veth.Config{
			A:   veth.End{NS: l.hosts[p.h].ns, Name: fmt.Sprintf("veth%d", i), Master: l.hosts[p.h].br0.Link},
			B:   veth.End{NS: n.ns, Name: "eth0", HardwareAddr: mac(n.addr), Addrs: []netip.Prefix{netip.PrefixFrom(n.addr, 16)}},
			MTU: containerMTU,
		})
		if err != nil {
			return err
		}
		n.eth0, n.peer = pair.B, pair.A
		*p.n = n
	}
	// Each host floods to every other: the flood list Docker keeps in its k/v store.
	for _, h := range l.hosts {
		var remotes []netip.Addr
		for _, other := range l.hosts {
			if other != h {
				remotes = append(remotes, other.addr)
			}
		}
		if err := h.vxlan.SetRemotes(remotes); err != nil {
			return err
		}
	}
	// Static ARP, as Docker's overlay answers ARP itself.
	all := l.nodes()
	for _, n := range all {
		for _, other := range all {
			if other != n {
				if err := n.eth0.AddNeighbor(other.addr, mac(other.addr)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (l *lab) nodes() []*node { return []*node{l.c1, l.c2, l.cl1, l.cl2} }

func (l *lab) print(w io.Writer, containerMTU int) {
	fmt.Fprintf(w, "underlay switch sw0 (%s) 10.0.0.0/24; overlay 10.255.0.0/16, VNI %d, UDP %d; br0 and vxlan0 MTU %d, containers' eth0 MTU %d\n",
		l.made[0].Name(), vni, vxlan.IANAPort, overlayMTU, containerMTU)
	on := map[int][]*node{0: {l.c1, l.c2}, 1: {l.cl1}, 2: {l.cl2}}
	for i, h := range l.hosts {
		var cs []string
		for _, n := range on[i] {
			cs = append(cs, fmt.Sprintf("%s %s (%s)", n.label, n.addr, n.ns.Name()))
		}
		fmt.Fprintf(w, "  %s (%s) eth0 %s: %s\n", h.name, h.ns.Name(), h.addr, strings.Join(cs, ", "))
	}
}

// expect records an observation that did not come out as the story tells it.
func (l *lab) expect(ok bool, format string, args ...any) {
	if !ok {
		l.bad = append(l.bad, fmt.Sprintf(format, args...))
	}
}

// run builds the swarm, tells the story to w and, unless o.keep, removes the swarm;
// with o.draw it also prints the picture to pic. It removes what it made on every error
// path, and stops when ctx ends.
func run(ctx context.Context, w, pic io.Writer, o options) (err error) {
	if o.scenario != "reset" && o.scenario != "mtu" {
		return fmt.Errorf(`-scenario must be "reset" or "mtu", not %q`, o.scenario)
	}
	if o.pcap != "" {
		if err := os.MkdirAll(o.pcap, 0o755); err != nil {
			return err
		}
	}
	l := &lab{}
	defer func() {
		if err != nil || !o.keep {
			if terr := netnsx.DeleteAll(l.made...); terr != nil && err == nil {
				err = terr
			}
			if err == nil {
				fmt.Fprintln(w, "torn down")
			}
		}
	}()
	containerMTU := overlayMTU
	if o.scenario == "mtu" {
		containerMTU = underMTU
	}
	start := time.Now()
	if err := l.build(o.prefix, containerMTU); err != nil {
		return err
	}
	fmt.Fprintf(w, "built the swarm (%d namespaces) in %v\n", len(l.made), time.Since(start).Round(time.Millisecond))
	l.print(w, containerMTU)
	if o.draw != "" {
		if err := drawTo(pic, o.draw, l.made...); err != nil {
			return err
		}
	}
	for _, n := range []*node{l.c1, l.c2} {
		s, err := serve(n.ns, n.service())
		if err != nil {
			return err
		}
		defer s.Close()
	}

	if o.scenario == "mtu" {
		err = l.mtu(ctx, w, o)
	} else {
		err = l.reset(ctx, w, o)
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: the observations after it are void
	}
	if len(l.bad) > 0 {
		return fmt.Errorf("the story did not go as told:\n  %s", strings.Join(l.bad, "\n  "))
	}
	fmt.Fprintln(w, "every observation as the story tells it")
	if o.keep {
		fmt.Fprintf(w, "kept (healed); try `ip netns exec %s bridge fdb show dev vxlan0`, remove with -clean -prefix %s\n", l.hosts[0].ns.Name(), o.prefix)
	}
	return nil
}

// reset is the article's incident: swarm02's handshakes to container-1:8081 answered
// by RST.
func (l *lab) reset(ctx context.Context, w io.Writer, o options) error {
	fmt.Fprintln(w, "\n== 1. before the incident: the three dials of the article all succeed")
	l.matrix(ctx, w, outcomes{})

	fmt.Fprintln(w, "\n== 2. day 30: inside container-1's sandbox, something answers swarm02's handshakes with RST")
	rstRule := fault.Rule{
		Direction: fault.In, Protocol: fault.TCP,
		Src:      netip.PrefixFrom(l.cl2.addr, 32),
		DstPort:  port,
		TCPFlags: fault.SYN, TCPFlagsMask: fault.SYN | fault.ACK, // a new connection's first segment
		Verdict: fault.RejectReset,
	}
	rst, err := fault.Add(l.c1.ns, rstRule)
	if err != nil {
		return err
	}
	defer rst.Remove()
	fmt.Fprintf(w, "fault.Add: %s\n", rst)

	fmt.Fprintln(w, "\n== 3. what the article saw")
	l.matrix(ctx, w, outcomes{{l.cl2, l.c1}: reset})

	fmt.Fprintf(w, "\n== 4. inside the sandbox: `ip netns exec %s ip route show`, then `iptables -nvL`\n", l.c1.ns.Name())
	routes, err := l.c1.ns.Routes()
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Dst.Addr().Is4() {
			fmt.Fprintf(w, "  %s dev %s src %s\n", r.Dst, r.Dev, r.Src)
		}
	}
	fmt.Fprintln(w, "  (routes fine, as in the article)")
	before, err := rst.Counters()
	if err != nil {
		return err
	}
	printCounters(w, []named{{"table inet " + fault.Table + ", chain input", rstRule, before}})
	l.expect(before.Packets >= 1, "the reset rule counted %d packets, want at least the one refused handshake", before.Packets)

	fmt.Fprintf(w, "\n== 5. `tcpdump -i eth0 -w` in container-1 (it runs on through step 6) during one more dial from swarm02\n")
	// One capture on container-1's eth0 from here to the end of the workaround: one
	// file, for `tcpdump -nr DIR/*.pcap`.
	rec, err := record(l.c1.eth0)
	if err != nil {
		return err
	}
	defer rec.c.Close()
	dial(ctx, l.cl2, l.c1)
	segs, err := rec.packets()
	if err != nil {
		return err
	}
	printSegments(w, segs, 6)
	l.expect(handshakeReset(segs, l.cl2.addr, l.c1.addr), "the capture on container-1's eth0 shows no SYN from %s answered by a RST from :%d", l.cl2.addr, port)
	after, err := rst.Counters()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "the reset rule's counter went from %d to %d packets: it is the one answering\n", before.Packets, after.Packets)
	l.expect(after.Packets > before.Packets, "the reset rule did not count the captured handshake")

	fmt.Fprintln(w, "\n== 6. the article's workaround, on swarm02's client: iptables -I INPUT -p tcp --tcp-flags SYN,FIN,RST,URG,PSH RST -j DROP")
	dropRule := fault.Rule{
		Direction: fault.In, Protocol: fault.TCP,
		TCPFlags: fault.RST, TCPFlagsMask: fault.SYN | fault.FIN | fault.RST | fault.URG | fault.PSH,
		Verdict: fault.Drop,
	}
	drop, err := fault.Add(l.cl2.ns, dropRule)
	if err != nil {
		return err
	}
	defer drop.Remove()
	fmt.Fprintf(w, "fault.Add: %s\n", drop)
	l.matrix(ctx, w, outcomes{{l.cl2, l.c1}: timeout})
	dropped, err := drop.Counters()
	if err != nil {
		return err
	}
	printCounters(w, []named{{"swarm02 client, chain input", dropRule, dropped}})
	l.expect(dropped.Packets >= 2, "the workaround dropped %d RSTs, want one per SYN sent (at least 2)", dropped.Packets)
	fmt.Fprintln(w, "`tcpdump -i eth0` in swarm02's client during one more dial (before its filter drops anything):")
	segs, err = l.capture(w, o, l.cl2.eth0, "", func() { dial(ctx, l.cl2, l.c1) })
	if err != nil {
		return err
	}
	printSegments(w, segs, 8)
	l.expect(handshakeReset(segs, l.cl2.addr, l.c1.addr), "the capture on swarm02 client's eth0 shows no RST answering its SYN")
	fmt.Fprintln(w, "the RSTs still come, one for every SYN (the first and each retransmission); dropping them")
	fmt.Fprintln(w, "only turns \"connection refused\" at once into a timeout after", dialTimeout.String()+":")
	fmt.Fprintln(w, "no filter on the client can make a refused handshake succeed.")
	if err := rec.stop(w, o, "incident-container-1-eth0.pcap"); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n== 7. the real fix: remove what refuses the handshakes in container-1 (for the article: upgrading Docker), and the workaround")
	if err := rst.Remove(); err != nil {
		return err
	}
	if err := drop.Remove(); err != nil {
		return err
	}
	l.matrix(ctx, w, outcomes{})
	return nil
}

// dial dials to's service from from once, and hangs up.
func dial(ctx context.Context, from, to *node) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if c, err := from.ns.Dial(ctx, "tcp", to.service()); err == nil {
		_ = c.Close()
	}
}

// recording is a capture on a link, as `tcpdump -i link -w file` in its namespace.
type recording struct {
	c   *netnsx.Capturer
	buf lockedBuffer
}

func record(link *netnsx.Link) (*recording, error) {
	r := &recording{}
	var err error
	r.c, err = link.NS().StartCapture(link.Name(), &r.buf)
	return r, err
}

// packets returns the TCP and ICMP packets captured so far.
func (r *recording) packets() ([]segment, error) {
	time.Sleep(50 * time.Millisecond) // the last answer on its way
	return readPcap(r.buf.Bytes())
}

// stop ends the capture and, when o.pcap is set, writes it there as file. Idempotent
// when there is no file to write.
func (r *recording) stop(w io.Writer, o options, file string) error {
	if err := r.c.Close(); err != nil {
		return err
	}
	if o.pcap == "" || file == "" {
		return nil
	}
	path := filepath.Join(o.pcap, file)
	if err := os.WriteFile(path, r.buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "capture written to %s (tcpdump -nr %s)\n", path, path)
	return nil
}

// capture runs fn while capturing on link and returns the packets seen; file as in stop.
func (l *lab) capture(w io.Writer, o options, link *netnsx.Link, file string, fn func()) ([]segment, error) {
	r, err := record(link)
	if err != nil {
		return nil, err
	}
	defer r.c.Close()
	fn()
	segs, err := r.packets()
	if err != nil {
		return nil, err
	}
	return segs, r.stop(w, o, file)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b...)
}

// handshakeReset reports whether segs hold a SYN from client to server:8081 and a RST
// from server:8081 back to the same port.
func handshakeReset(segs []segment, client, server netip.Addr) bool {
	for _, s := range segs {
		if s.proto == 6 && s.flags&flagSYN != 0 && s.flags&flagACK == 0 && s.src.Addr() == client && s.dst == netip.AddrPortFrom(server, port) {
			for _, r := range segs {
				if r.proto == 6 && r.flags&flagRST != 0 && r.src == s.dst && r.dst == s.src {
					return true
				}
			}
		}
	}
	return false
}

type named struct {
	where string
	rule  fault.Rule
	c     fault.Counters
}

// printCounters prints filters as `iptables -nvL` does: packets, bytes, the rule.
func printCounters(w io.Writer, fs []named) {
	for _, n := range fs {
		fmt.Fprintf(w, "  %s\n  %8s %8s  %s\n", n.where, "pkts", "bytes", "rule")
		fmt.Fprintf(w, "  %8d %8d  %s\n", n.c.Packets, n.c.Bytes, n.rule)
	}
}

// Outcomes of a dial, as the story names them.
type outcome string

const (
	ok      outcome = "ok"
	reset   outcome = "connection reset"
	timeout outcome = "timeout"
)

type probe struct{ from, to *node }

// outcomes maps probes to what the story expects; a probe not in the map expects ok.
type outcomes map[probe]outcome

// matrix makes the article's three dials at once, prints each result in the
// article's words and records what differs from want.
func (l *lab) matrix(ctx context.Context, w io.Writer, want outcomes) {
	// The article's three observations, in its order.
	probes := []probe{{l.cl1, l.c1}, {l.cl2, l.c2}, {l.cl2, l.c1}}
	got := make([]outcome, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			_, errs[i] = exchange(ctx, p.from.ns, p.to.service(), []byte("GET /subjects\n"))
			got[i] = classify(errs[i])
		}()
	}
	wg.Wait()
	for i, p := range probes {
		line := fmt.Sprintf("%s → %s:%d: %s", p.from.label, p.to.label, port, got[i])
		switch got[i] {
		case reset:
			line += " (the handshake was answered by RST: " + short(errs[i]) + ")"
		case timeout:
			line += " (no answer within " + dialTimeout.String() + ")"
		case ok:
		default:
			line += ": " + errs[i].Error()
		}
		fmt.Fprintln(w, "  "+line)
		exp, ok := want[p]
		if !ok {
			exp = "ok"
		}
		l.expect(got[i] == exp, "%s → %s:%d: %s, want %s", p.from.label, p.to.label, port, got[i], exp)
	}
}

// short is the last part of a dial error: "connect: connection refused".
func short(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "connect: "); i >= 0 {
		return s[i:]
	}
	return s
}

func classify(err error) outcome {
	var ne net.Error
	switch {
	case err == nil:
		return ok
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return reset
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return timeout
	}
	return outcome("failed")
}

// mtu is the classic VXLAN blackhole: containers send 1500-byte packets into an overlay
// that carries 1450, and the ICMP that would tell them so never gets back.
//
// Since Linux 5.9 a VXLAN device on a bridge answers a packet too big for the
// underlay with ICMP "fragmentation needed" on behalf of the remote container, and TCP
// shrinks its segments: the kernel heals the mismatch by itself. The blackhole of older
// kernels, and of every network whose firewalls drop ICMP, needs that ICMP lost, so
// here a filter in each container drops the ICMP it receives.
func (l *lab) mtu(ctx context.Context, w io.Writer, o options) error {
	fmt.Fprintln(w, "\n== 1. the handshake and small requests pass")
	l.matrix(ctx, w, outcomes{})

	fmt.Fprintln(w, "\n== 2. a firewall in the containers drops the ICMP they receive, as many do")
	icmpRule := fault.Rule{Direction: fault.In, Protocol: fault.ICMP, Verdict: fault.Drop}
	var icmp []*fault.Filter
	defer func() {
		for _, f := range icmp {
			_ = f.Remove()
		}
	}()
	for _, n := range l.nodes() {
		f, err := fault.Add(n.ns, icmpRule)
		if err != nil {
			return err
		}
		icmp = append(icmp, f)
	}
	fmt.Fprintf(w, "fault.Add: %s, in each container\n", icmpRule)

	fmt.Fprintf(w, "\n== 3. a %d KiB transfer from swarm01's client to container-1 stalls\n", bulk>>10)
	// Count what the overlay cannot carry: IP packets longer than its MTU, sent by the
	// client and received by container-1 (Accept: counted and let through).
	big := func(d fault.Direction) fault.Rule {
		return fault.Rule{Direction: d, Protocol: fault.TCP, LongerThan: overlayMTU, Verdict: fault.Accept}
	}
	sent, err := fault.Add(l.cl1.ns, big(fault.Out))
	if err != nil {
		return err
	}
	defer sent.Remove()
	recv, err := fault.Add(l.c1.ns, big(fault.In))
	if err != nil {
		return err
	}
	defer recv.Remove()

	payload := make([]byte, bulk)
	_, _ = rand.Read(payload)
	var n int
	var terr, cerr error
	var took time.Duration
	var clientSegs, serverSegs []segment
	serverSegs, err = l.capture(w, o, l.c1.eth0, "mtu-container-1-eth0.pcap", func() {
		clientSegs, cerr = l.capture(w, o, l.cl1.eth0, "mtu-swarm01-client-eth0.pcap", func() {
			ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
			defer cancel()
			start := time.Now()
			n, terr = exchange(ctx, l.cl1.ns, l.c1.service(), payload)
			took = time.Since(start)
		})
	})
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	if terr == nil {
		fmt.Fprintf(w, "  transfer done in %v\n", took.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "  transfer stalled: %d of %d bytes echoed in %v (%v)\n", n, bulk, took.Round(time.Millisecond), classify(terr))
	}
	l.expect(terr != nil && classify(terr) == timeout, "the 1 MiB transfer over MTU 1500 containers ended with %v, want a timeout", terr)

	fmt.Fprintln(w, "\n== 4. diagnosis")
	fmt.Fprintln(w, "counters (`nft list ruleset` in each namespace):")
	sc, err := sent.Counters()
	if err != nil {
		return err
	}
	rc, err := recv.Counters()
	if err != nil {
		return err
	}
	ic, err := icmp[2].Counters() // swarm01's client
	if err != nil {
		return err
	}
	printCounters(w, []named{
		{"swarm01 client, chain output (a GSO batch counts once)", big(fault.Out), sc},
		{"container-1, chain input", big(fault.In), rc},
		{"swarm01 client, chain input", icmpRule, ic},
	})
	l.expect(sc.Packets > 0 && rc.Packets == 0, "sent %d packets longer than %d, received %d; want some sent and none received", sc.Packets, overlayMTU, rc.Packets)
	l.expect(ic.Packets > 0, "the client's ICMP filter dropped nothing: no \"fragmentation needed\" came back")

	fmt.Fprintln(w, "captures (tcpdump -i eth0 on both sides):")
	bigSent, seqs, bigRecv := 0, map[uint32]bool{}, 0
	var needFrag []segment
	for _, s := range clientSegs {
		switch {
		case s.proto == 6 && s.src.Addr() == l.cl1.addr && s.ipLen > overlayMTU:
			bigSent++
			seqs[s.seq] = true
		case s.proto == 1 && s.icmpType == 3 && s.icmpCode == 4:
			needFrag = append(needFrag, s)
		}
	}
	for _, s := range serverSegs {
		if s.proto == 6 && s.ipLen > overlayMTU {
			bigRecv++
		}
	}
	fmt.Fprintf(w, "  swarm01 client eth0: %d segments longer than %d bytes sent, %d of them sent again\n", bigSent, overlayMTU, bigSent-len(seqs))
	fmt.Fprintf(w, "  swarm01 client eth0: %d ICMP \"fragmentation needed\" received (and dropped by the firewall)\n", len(needFrag))
	printSegments(w, needFrag, 2)
	fmt.Fprintf(w, "  container-1 eth0:    %d segments longer than %d bytes arrived\n", bigRecv, overlayMTU)
	l.expect(bigSent > len(seqs) && bigRecv == 0, "captures: %d big segments sent (%d distinct), %d arrived; want retransmissions and none arrived", bigSent, len(seqs), bigRecv)
	l.expect(len(needFrag) > 0, "the client's capture shows no ICMP fragmentation needed")

	fmt.Fprintln(w, "MTUs along the path (ip link):")
	snap, err := netnsx.Inspect(l.cl1.ns, l.hosts[1].ns)
	if err != nil {
		return err
	}
	for _, ns := range snap.Namespaces {
		for _, li := range ns.Links {
			if li.Name != "lo" {
				fmt.Fprintf(w, "  %-22s %-7s mtu %d\n", ns.Name, li.Name, li.MTU)
			}
		}
	}
	fmt.Fprintf(w, "the containers' eth0 say %d, so TCP sends %d-byte segments; the overlay carries %d\n", underMTU, underMTU, overlayMTU)
	fmt.Fprintln(w, "(a 1500-byte underlay minus 50 bytes of VXLAN). They die between br0 and vxlan0; the")
	fmt.Fprintln(w, "kernel answers some with ICMP \"fragmentation needed\", which the firewall drops: TCP never")
	fmt.Fprintln(w, "learns, and sends the same segments again until it gives up. The handshake and small")
	fmt.Fprintln(w, "requests fit, so everything looks up: a blackhole for bulk data only.")

	fmt.Fprintf(w, "\n== 5. the fix: MTU %d on every container's eth0, as Docker sets it on an overlay (ICMP still dropped)\n", overlayMTU)
	for _, n := range l.nodes() {
		for _, link := range []*netnsx.Link{n.eth0, n.peer} {
			if err := link.SetMTU(overlayMTU); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, bulkTimeout)
	defer cancel()
	start := time.Now()
	n, terr = exchange(ctx, l.cl1.ns, l.c1.service(), payload)
	if terr != nil {
		fmt.Fprintf(w, "  transfer failed after %d bytes: %v\n", n, terr)
	} else {
		fmt.Fprintf(w, "  %d KiB echoed in %v\n", n>>10, time.Since(start).Round(time.Millisecond))
	}
	l.expect(terr == nil, "the transfer after the fix failed: %v", terr)
	ic2, err := icmp[2].Counters()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  ICMP dropped in swarm01's client during it: %d\n", ic2.Packets-ic.Packets)
	l.expect(ic2.Packets == ic.Packets, "after the fix the client still got %d ICMP packets", ic2.Packets-ic.Packets)
	for _, f := range append(icmp, sent, recv) {
		if err := f.Remove(); err != nil {
			return err
		}
	}
	l.matrix(ctx, w, outcomes{})
	return nil
}

// server echoes every connection until Close, which also ends the connections still
// open: a stalled transfer would otherwise hold its goroutines until a deadline.
type server struct {
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func serve(ns *netnsx.NS, addr string) (*server, error) {
	l, err := ns.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{l: l, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s, nil
}

func (s *server) Close() {
	_ = s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// exchange dials addr from ns, sends payload, and checks that the same bytes come back;
// it returns how many came back.
func exchange(ctx context.Context, ns *netnsx.NS, addr string, payload []byte) (int, error) {
	c, err := ns.Dial(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer func() { _ = c.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })() // interrupted: unblock
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
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
		return len(got), err
	}
	if string(got) != string(payload) {
		return len(got), fmt.Errorf("%s echoed %d bytes, not the %d sent", addr, len(got), len(payload))
	}
	return len(got), nil
}

// TCP flags, as in the header's 14th byte.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// segment is one TCP/IPv4 segment read from a capture.
type segment struct {
	proto              byte // 6: TCP, 1: ICMP
	src, dst           netip.AddrPort
	flags              byte // TCP's
	seq                uint32
	ipLen              int // IP total length
	icmpType, icmpCode byte
	icmpMTU            int // next-hop MTU of a "fragmentation needed"
}

func (s segment) String() string {
	if s.proto == 1 {
		if s.icmpType == 3 && s.icmpCode == 4 {
			return fmt.Sprintf("ICMP fragmentation needed (mtu %d) %s → %s", s.icmpMTU, s.src.Addr(), s.dst.Addr())
		}
		return fmt.Sprintf("ICMP type %d code %d %s → %s", s.icmpType, s.icmpCode, s.src.Addr(), s.dst.Addr())
	}
	var name string
	switch {
	case s.flags&flagRST != 0:
		name = "RST"
	case s.flags&flagSYN != 0 && s.flags&flagACK != 0:
		name = "SYN-ACK"
	case s.flags&flagSYN != 0:
		name = "SYN"
	case s.flags&flagFIN != 0:
		name = "FIN"
	default:
		name = "ACK"
	}
	return fmt.Sprintf("%-7s %s → %s", name, s.src, s.dst)
}

func printSegments(w io.Writer, segs []segment, max int) {
	for i, s := range segs {
		if i == max {
			fmt.Fprintf(w, "  ... %d more\n", len(segs)-max)
			break
		}
		fmt.Fprintf(w, "  %s\n", s)
	}
}

// readPcap returns the TCP and ICMP packets over IPv4 of a classic pcap file of Ethernet frames, as
// netnsx.Capture and `tcpdump -w` write it.
func readPcap(b []byte) ([]segment, error) {
	if len(b) < 24 {
		return nil, errors.New("pcap: short file header")
	}
	var bo binary.ByteOrder
	switch magic := binary.LittleEndian.Uint32(b); magic {
	case 0xa1b2c3d4, 0xa1b23c4d: // microsecond or nanosecond timestamps
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap: bad magic %#x", magic)
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap: link type %d, not Ethernet", lt)
	}
	var segs []segment
	for b = b[24:]; len(b) > 0; {
		if len(b) < 16 {
			return nil, errors.New("pcap: short record header")
		}
		n := int(bo.Uint32(b[8:]))
		if len(b) < 16+n {
			return nil, errors.New("pcap: short record")
		}
		frame := b[16 : 16+n]
		b = b[16+n:]
		if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue // not IPv4
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		src, _ := netip.AddrFromSlice(ip[12:16])
		dst, _ := netip.AddrFromSlice(ip[16:20])
		if ip[9] == 1 && len(ip) >= ihl+8 {
			icmp := ip[ihl:]
			segs = append(segs, segment{
				proto: 1, src: netip.AddrPortFrom(src, 0), dst: netip.AddrPortFrom(dst, 0),
				icmpType: icmp[0], icmpCode: icmp[1], icmpMTU: int(binary.BigEndian.Uint16(icmp[6:])),
				ipLen: int(binary.BigEndian.Uint16(ip[2:])),
			})
			continue
		}
		if ip[9] != 6 || len(ip) < ihl+20 {
			continue // neither TCP nor ICMP
		}
		tcp := ip[ihl:]
		segs = append(segs, segment{
			proto: 6,
			src:   netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:])),
			dst:   netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:])),
			seq:   binary.BigEndian.Uint32(tcp[4:]),
			flags: tcp[13],
			ipLen: int(binary.BigEndian.Uint16(ip[2:])),
		})
	}
	return segs, nil
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
