package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/internal/cli"
	"github.com/nstopo/nstopo/internal/echo"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/overlay"
	"github.com/nstopo/nstopo/userns"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// The demo's network: one VNI, a /16 so that 250 hosts of 250 containers fit.
const (
	demoNetwork = "demo"
	demoVNI     = 4242
	echoPort    = 8081
	// everyPairUpTo is the largest mesh checked pair by pair. Above it each container
	// is checked from a container on the next host, and every host's forwarding
	// entries are read: the kernel's neighbour table is shared by all namespaces and
	// holds 1024 learned entries (gc_thresh3, settable only in the initial namespace),
	// every pair learns two (each end learns the other), and a full table drops
	// packets.
	everyPairUpTo = 300
)

var demoSubnet = netip.MustParsePrefix("10.200.0.0/16")

type demoOptions struct {
	hosts, containers int
	etcd              string
	ttl               time.Duration
	verbose           bool
}

// demo is one run: its etcd, its namespaces, its agents, and what it measured.
type demo struct {
	o        demoOptions
	out      io.Writer
	id       string // makes every name of the run unique
	dir      string // sockets, agent logs, embedded etcd's data
	urls     string
	prefix   string
	etcd     *clientv3.Client
	embedded *embed.Etcd
	sw       *bridge.Bridge
	hosts    []*simHost
	mu       sync.Mutex
	nss      []*netnsx.NS // every namespace made, to delete
}

type simHost struct {
	name       string
	ns         *netnsx.NS
	vtep       netip.Addr
	socket     string
	log        string
	agent      *exec.Cmd
	exited     chan struct{}
	containers []*simContainer
	dev        *vxlan.Device // the agent's VXLAN device, opened at the first read
}

// fdb reads the forwarding entries of the VXLAN device h's agent made.
func (h *simHost) fdb() ([]netnsx.FDBEntry, error) {
	if h.dev == nil {
		dev, err := vxlan.Open(h.ns, fmt.Sprintf("vx%d", demoVNI))
		if err != nil {
			return nil, err
		}
		h.dev = dev
	}
	return h.dev.FDB()
}

type simContainer struct {
	name string
	ns   *netnsx.NS
	ep   endpointJSON
	host *simHost
}

func runDemo(args []string) error {
	if err := userns.Enter(); err != nil {
		fmt.Fprintln(os.Stderr, "nstopo-overlay demo:", err)
	}
	cli.Defer()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var o demoOptions
	fs.IntVar(&o.hosts, "hosts", 3, "simulated hosts (2-250), one agent each")
	fs.IntVar(&o.containers, "containers", 2, "containers per host (1-250)")
	fs.StringVar(&o.etcd, "etcd", "", "etcd client URLs, comma-separated (default: an embedded etcd)")
	fs.DurationVar(&o.ttl, "ttl", 3*time.Second, "the hosts' lease TTL, whole seconds: how long a killed agent's entries stay")
	fs.BoolVar(&o.verbose, "v", false, "agents log every reconcile (their logs are printed on failure)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.hosts < 2 || o.hosts > 250 || o.containers < 1 || o.containers > 250 {
		return usagef("-hosts %d -containers %d: want 2-250 hosts and 1-250 containers", o.hosts, o.containers)
	}
	if err := wholeSeconds("ttl", o.ttl); err != nil {
		return err
	}
	d := &demo{o: o, out: os.Stdout}
	err := d.run()
	if terr := d.teardown(); terr != nil {
		err = errors.Join(err, fmt.Errorf("teardown: %w", terr))
	}
	if err != nil {
		d.printAgentLogs()
	}
	d.removeDir()
	if err != nil {
		return err
	}
	fmt.Fprintln(d.out, "all held; nothing left behind")
	return nil
}

func (d *demo) run() error {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	d.id = "ovd" + hex.EncodeToString(b)
	var err error
	if d.dir, err = os.MkdirTemp("", d.id+"-"); err != nil {
		return err
	}
	if err := d.startEtcd(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := overlay.CreateNetwork(ctx, d.etcd, d.prefix, overlay.Network{Name: demoNetwork, VNI: demoVNI, Subnet: demoSubnet}); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "network %s: VNI %d, %s, keys under %s\n", demoNetwork, demoVNI, demoSubnet, d.prefix)

	start := time.Now()
	if err := d.startHosts(); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "hosts: %d agents registered (lease TTL %v) in %v\n", len(d.hosts), d.o.ttl, since(start))

	start = time.Now()
	if err := d.attachAll(); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "containers: %d attached in %v\n", d.o.hosts*d.o.containers, since(start))
	if err := d.checkMesh(d.hosts, "mesh"); err != nil {
		return err
	}
	if err := d.lateJoin(); err != nil {
		return err
	}
	d.printMemory()
	if err := d.killAgent(); err != nil {
		return err
	}
	return d.checkMesh(d.hosts[:len(d.hosts)-1], "mesh of the hosts left")
}

// startEtcd connects to the -etcd cluster, under a prefix of this run's own, or starts
// an embedded single-member etcd on loopback.
func (d *demo) startEtcd() error {
	d.prefix = overlay.DefaultPrefix
	if d.o.etcd != "" {
		d.urls = d.o.etcd
		d.prefix = "/nstopo-demo/" + d.id + "/"
	} else {
		cfg := embed.NewConfig()
		cfg.Dir = filepath.Join(d.dir, "etcd")
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cu, pu, err := freeURLs()
		if err != nil {
			return err
		}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.InitialCluster = cfg.Name + "=" + pu.String()
		if d.embedded, err = embed.StartEtcd(cfg); err != nil {
			return fmt.Errorf("embedded etcd: %w", err)
		}
		select {
		case <-d.embedded.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			return errors.New("embedded etcd did not start within 30 s")
		}
		d.urls = cu.String()
	}
	e := etcdFlags{urls: d.urls, dialTimeout: 5 * time.Second}
	var err error
	if d.etcd, err = e.client(); err != nil {
		return err
	}
	where := "embedded etcd"
	if d.embedded == nil {
		where = "external etcd"
	}
	fmt.Fprintf(d.out, "run %s: etcd: %s at %s\n", d.id, where, d.urls)
	return nil
}

// freeURLs picks two free loopback ports for the embedded etcd.
func freeURLs() (url.URL, url.URL, error) {
	var us [2]url.URL
	for i := range us {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return url.URL{}, url.URL{}, err
		}
		us[i] = url.URL{Scheme: "http", Host: l.Addr().String()}
		defer l.Close()
	}
	return us[0], us[1], nil
}

func (d *demo) newNS(name string) (*netnsx.NS, error) {
	ns, err := netnsx.New(d.id + "-" + name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.nss = append(d.nss, ns)
	d.mu.Unlock()
	return ns, nil
}

// startHosts makes the underlay switch and every host on it, and starts each host's
// agent as its own process, as on a real machine.
func (d *demo) startHosts() error {
	swNS, err := d.newNS("underlay")
	if err != nil {
		return err
	}
	if d.sw, err = bridge.Create(swNS, bridge.Config{Name: "sw0"}); err != nil {
		return err
	}
	d.hosts = make([]*simHost, d.o.hosts)
	for i := range d.hosts {
		name := fmt.Sprintf("h%d", i+1)
		d.hosts[i] = &simHost{name: name, vtep: netip.AddrFrom4([4]byte{10, 99, 0, byte(i + 1)}),
			socket: filepath.Join(d.dir, name+".sock"), log: filepath.Join(d.dir, name+".log")}
	}
	return parallel(d.hosts, func(i int, h *simHost) error {
		var err error
		if h.ns, err = d.newNS(h.name); err != nil {
			return err
		}
		if _, err := veth.Create(veth.Config{
			A: veth.End{NS: swNS, Name: fmt.Sprintf("port%d", i+1), Master: d.sw.Link},
			B: veth.End{NS: h.ns, Name: "eth0", Addrs: []netip.Prefix{netip.PrefixFrom(h.vtep, 24)}},
		}); err != nil {
			return err
		}
		return d.startAgent(h)
	})
}

// startAgent runs this program's agent command for h and waits for its socket.
func (d *demo) startAgent(h *simHost) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.Create(h.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"agent", "-etcd", d.urls, "-prefix", d.prefix, "-host", h.name, "-vtep", h.vtep.String(),
		"-underlay", "eth0", "-netns", h.ns.Name(), "-socket", h.socket, "-ttl", d.o.ttl.String()}
	if d.o.verbose {
		args = append(args, "-v")
	}
	h.agent = exec.Command(self, args...)
	h.agent.Stdout, h.agent.Stderr = logf, logf
	// The agent dies with the demo: Pdeathsig fires when the thread that forked it
	// ends, so that thread stays locked to a goroutine that lives as long as the agent.
	h.agent.SysProcAttr = dieWithParent()
	h.exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(h.exited)
		if err := h.agent.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = h.agent.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("agent %s: %w", h.name, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", h.socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-h.exited:
			return fmt.Errorf("agent %s exited: %s", h.name, h.agent.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent %s: no socket after 15 s", h.name)
		}
	}
}

// attach makes a container namespace on h, attaches it through h's agent, and serves
// TCP echo in it.
func (d *demo) attach(h *simHost, name string) (*simContainer, error) {
	ns, err := d.newNS(h.name + name)
	if err != nil {
		return nil, err
	}
	c := &simContainer{name: h.name + name, ns: ns, host: h}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := attachRequest{Network: demoNetwork, Name: c.name, NetNS: filepath.Join("/run/netns", ns.Name())}
	if err := call(ctx, h.socket, "/attach", req, &c.ep); err != nil {
		return nil, fmt.Errorf("attach %s: %w", c.name, err)
	}
	// The listener lives as long as the namespace; deleting it closes the socket.
	if _, err := echo.Serve(context.Background(), ns, netip.AddrPortFrom(c.ep.IP, echoPort).String()); err != nil {
		return nil, err
	}
	return c, nil
}

func (d *demo) attachAll() error {
	return parallel(d.hosts, func(_ int, h *simHost) error {
		for j := range d.o.containers {
			c, err := d.attach(h, fmt.Sprintf("c%d", j+1))
			if err != nil {
				return err
			}
			h.containers = append(h.containers, c)
		}
		return nil
	})
}

type pair struct{ from, to *simContainer }

// checkMesh proves over TCP that containers reach each other across hosts: every pair,
// or each container from one container on every host when every pair is too many.
func (d *demo) checkMesh(hosts []*simHost, what string) error {
	var all []*simContainer
	for _, h := range hosts {
		all = append(all, h.containers...)
	}
	var pairs []pair
	kind := "every pair"
	if len(all)*(len(all)-1) <= everyPairUpTo {
		for _, a := range all {
			for _, b := range all {
				if a != b {
					pairs = append(pairs, pair{a, b})
				}
			}
		}
	} else {
		kind = "each container from a container on the next host"
		for i, h := range hosts {
			src := hosts[(i+1)%len(hosts)].containers[0]
			for _, b := range h.containers {
				pairs = append(pairs, pair{src, b})
			}
		}
	}
	if err := d.checkForwarding(hosts, what); err != nil {
		return err
	}
	start := time.Now()
	errs := make([]error, len(pairs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := pairs[i]
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				errs[i] = echo.RoundTrip(ctx, p.from.ns, netip.AddrPortFrom(p.to.ep.IP, echoPort).String(), []byte(p.from.name+" -> "+p.to.name+"\n"))
				cancel()
				if errs[i] != nil {
					errs[i] = fmt.Errorf("%s -> %s (%s): %w", p.from.name, p.to.name, p.to.ep.IP, errs[i])
				}
			}
		}()
	}
	for i := range pairs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				fmt.Fprintln(d.out, "  FAIL", err)
			}
		}
	}
	fmt.Fprintf(d.out, "%s: %d of %d TCP echoes ok (%s) in %v\n", what, len(pairs)-failed, len(pairs), kind, since(start))
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d pairs unreachable", what, failed, len(pairs))
	}
	return nil
}

// checkForwarding reads every host's VXLAN device until it floods to every other host
// and forwards every container behind another host to that host: the agents converge
// after the attaches return, not before.
func (d *demo) checkForwarding(hosts []*simHost, what string) error {
	start := time.Now()
	for {
		err := parallel(hosts, func(_ int, h *simHost) error { return h.forwardsAll(hosts) })
		if err == nil {
			break
		}
		if time.Since(start) > 10*time.Second {
			return fmt.Errorf("%s: not converged after 10 s: %w", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	n := 0
	for _, h := range hosts {
		n += len(h.containers)
	}
	fmt.Fprintf(d.out, "%s: every host's device floods to the %d others and forwards each of their %d containers to its host (within %v)\n",
		what, len(hosts)-1, n, since(start))
	return nil
}

// forwardsAll reports the first entry h's device lacks.
func (h *simHost) forwardsAll(hosts []*simHost) error {
	es, err := h.fdb()
	if err != nil {
		return err
	}
	have := map[string]netip.Addr{}
	var flood []netip.Addr
	for _, e := range es {
		if e.HardwareAddr.String() == "00:00:00:00:00:00" {
			flood = append(flood, e.Dst)
		} else {
			have[e.HardwareAddr.String()] = e.Dst
		}
	}
	for _, o := range hosts {
		if o == h {
			continue
		}
		if !slices.Contains(flood, o.vtep) {
			return fmt.Errorf("%s does not flood to %s (%s)", h.name, o.name, o.vtep)
		}
		for _, c := range o.containers {
			if have[c.ep.MAC] != o.vtep {
				return fmt.Errorf("%s forwards %s (%s) to %v, not to %s", h.name, c.name, c.ep.MAC, have[c.ep.MAC], o.vtep)
			}
		}
	}
	return nil
}

// lateJoin attaches one more container on every host, one at a time, and measures for
// each other host how long after the attach request (which commits the endpoint's key)
// its device holds the new endpoint, and its first container gets a TCP echo through.
func (d *demo) lateJoin() error {
	var answered, programmed, reachable []time.Duration
	for _, h := range d.hosts {
		// A probe whose ARP request arrives before the entry would otherwise wait the
		// kernel's 1 s retransmit time; the control plane, not that timer, is measured.
		for _, o := range d.hosts {
			if o != h {
				if err := o.containers[0].ns.SetSysctl("net.ipv4.neigh.eth0.retrans_time_ms", "10"); err != nil {
					return err
				}
			}
		}
		ns, err := d.newNS(h.name + "late")
		if err != nil {
			return err
		}
		c := &simContainer{name: h.name + "late", ns: ns, host: h}
		type result struct {
			prog, reach time.Duration
			err         error
		}
		results := make(chan result, len(d.hosts))
		ready := make(chan bool, len(d.hosts))
		t0 := time.Now()
		for _, o := range d.hosts {
			if o == h {
				continue
			}
			go func() {
				// c.ep is set once the attach has answered, before ready is closed.
				if !<-ready {
					results <- result{err: errors.New("not attached")}
					return
				}
				var r result
				r.prog, r.err = waitProgrammed(o, c, h, t0)
				if r.err == nil {
					r.reach, r.err = waitReachable(o.containers[0], c, t0)
				}
				results <- r
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req := attachRequest{Network: demoNetwork, Name: c.name, NetNS: filepath.Join("/run/netns", ns.Name())}
		err = call(ctx, h.socket, "/attach", req, &c.ep)
		cancel()
		answered = append(answered, time.Since(t0))
		if err == nil {
			_, err = echo.Serve(context.Background(), ns, netip.AddrPortFrom(c.ep.IP, echoPort).String())
		}
		for range len(d.hosts) - 1 {
			ready <- err == nil
		}
		for range len(d.hosts) - 1 {
			r := <-results
			if r.err != nil && err == nil {
				err = r.err
			}
			programmed, reachable = append(programmed, r.prog), append(reachable, r.reach)
		}
		if err != nil {
			return fmt.Errorf("late join on %s: %w", h.name, err)
		}
		h.containers = append(h.containers, c)
	}
	fmt.Fprintf(d.out, "late join (%d containers, from the attach request, as seen by each other host):\n", len(d.hosts))
	fmt.Fprintf(d.out, "  attach answered:     median %v, max %v (the key committed, the veth made)\n", median(answered), slices.Max(answered).Round(100*time.Microsecond))
	fmt.Fprintf(d.out, "  entry on its device: median %v, max %v\n", median(programmed), slices.Max(programmed).Round(100*time.Microsecond))
	fmt.Fprintf(d.out, "  first TCP echo:      median %v, max %v\n", median(reachable), slices.Max(reachable).Round(100*time.Microsecond))
	return nil
}

// waitProgrammed polls o's device until it forwards c's MAC to c's host.
func waitProgrammed(o *simHost, c *simContainer, at *simHost, t0 time.Time) (time.Duration, error) {
	for time.Since(t0) < 15*time.Second {
		es, err := o.fdb()
		if err != nil {
			return 0, err
		}
		for _, e := range es {
			if e.HardwareAddr.String() == c.ep.MAC && e.Dst == at.vtep {
				return time.Since(t0), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s: no entry for %s after 15 s", o.name, c.name)
}

// waitReachable dials from src until c answers.
func waitReachable(src, c *simContainer, t0 time.Time) (time.Duration, error) {
	var err error
	for time.Since(t0) < 15*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err = echo.RoundTrip(ctx, src.ns, netip.AddrPortFrom(c.ep.IP, echoPort).String(), []byte("join\n"))
		cancel()
		if err == nil {
			return time.Since(t0), nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s -> %s: %w", src.name, c.name, err)
}

// printMemory reports the agents' resident memory.
func (d *demo) printMemory() {
	var rss, hwm []int
	for _, h := range d.hosts {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.agent.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				kb, _ := strconv.Atoi(f[1])
				if f[0] == "VmRSS:" {
					rss = append(rss, kb)
				} else {
					hwm = append(hwm, kb)
				}
			}
		}
	}
	if len(rss) == 0 {
		return
	}
	slices.Sort(rss)
	fmt.Fprintf(d.out, "agent memory: resident median %.1f MiB, max %.1f MiB (peak %.1f MiB)\n",
		float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024, float64(slices.Max(hwm))/1024)
}

// killAgent SIGKILLs the last host's agent, as a crash would end it, and waits until
// its lease expires and every other host has dropped its VTEP and endpoints.
func (d *demo) killAgent() error {
	h := d.hosts[len(d.hosts)-1]
	if err := h.agent.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	t0 := time.Now()
	<-h.exited
	limit := d.o.ttl + 3*time.Second // the lease, and etcd's check of expiries
	var gone []time.Duration
	for _, o := range d.hosts[:len(d.hosts)-1] {
		for {
			es, err := o.fdb()
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(es, func(e netnsx.FDBEntry) bool { return e.Dst == h.vtep }) {
				gone = append(gone, time.Since(t0))
				break
			}
			if time.Since(t0) > limit {
				return fmt.Errorf("%s still forwards to killed %s (%s) %v after the kill", o.name, h.name, h.vtep, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := d.etcd.Get(ctx, d.prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	for _, kv := range r.Kvs {
		if strings.HasSuffix(string(kv.Key), "/hosts/"+h.name) || strings.Contains(string(kv.Value), `"host":"`+h.name+`"`) {
			return fmt.Errorf("killed %s's key %s is still in etcd", h.name, kv.Key)
		}
	}
	fmt.Fprintf(d.out, "agent of %s SIGKILLed: its entries gone from the %d other hosts after %v (last), lease TTL %v; its keys gone from etcd\n",
		h.name, len(gone), slices.Max(gone).Round(time.Millisecond), d.o.ttl)
	// Its containers are cut off now: a dial from another host must fail.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if err := echo.RoundTrip(ctx2, d.hosts[0].containers[0].ns, netip.AddrPortFrom(h.containers[0].ep.IP, echoPort).String(), []byte("x\n")); err == nil {
		return fmt.Errorf("%s still reaches %s behind the dead agent", d.hosts[0].containers[0].name, h.containers[0].name)
	}
	return nil
}

// teardown stops the agents (each revokes its lease, so its keys go), removes the
// run's keys from an external etcd, deletes every namespace and stops etcd.
func (d *demo) teardown() error {
	var errs []error
	for _, h := range d.hosts {
		if h == nil || h.agent == nil || h.agent.Process == nil {
			continue
		}
		select {
		case <-h.exited:
			continue
		default:
		}
		_ = h.agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
			if !h.agent.ProcessState.Success() {
				errs = append(errs, fmt.Errorf("agent %s: %s", h.name, h.agent.ProcessState))
			}
		case <-time.After(10 * time.Second):
			_ = h.agent.Process.Kill()
			<-h.exited
			errs = append(errs, fmt.Errorf("agent %s did not stop within 10 s of SIGTERM", h.name))
		}
	}
	if d.etcd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if d.embedded == nil {
			if _, err := d.etcd.Delete(ctx, d.prefix, clientv3.WithPrefix()); err != nil {
				errs = append(errs, err)
			}
		}
		cancel()
		d.etcd.Close()
	}
	if err := netnsx.DeleteAll(d.nss...); err != nil {
		errs = append(errs, err)
	}
	if d.embedded != nil {
		d.embedded.Close()
	}
	return errors.Join(errs...)
}

// removeDir removes the run's directory, after the agents' logs were read.
func (d *demo) removeDir() {
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// printAgentLogs shows what the agents said, after a failure.
func (d *demo) printAgentLogs() {
	for _, h := range d.hosts {
		if b, err := os.ReadFile(h.log); err == nil && len(b) > 0 {
			fmt.Fprintf(os.Stderr, "--- agent %s:\n%s", h.name, b)
		}
	}
}

func parallel[T any](xs []T, fn func(int, T) error) error {
	errs := make([]error, len(xs))
	var wg sync.WaitGroup
	for i, x := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, x)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
