//go:build linux

// Command compare builds the same star several ways in one interleaved run — the
// article's `ip` steps (bench/iproute2-star.sh), raw vishvananda/netlink calls (the
// floor), nstopo with one and with two goroutines, and the peers Mininet and pyroute2
// (bench/mininet-star.py, bench/pyroute2-star.py; asked for by name, skipped when not
// installed) — and prints the median build and teardown times and their ratios against
// nstopo. Run it as root from the repository's root:
//
//	go run ./bench/compare                       # N = 10 and 100, 5 rounds
//	go run ./bench/compare -n 10,100,1000 -iproute2-max 100
//	go run ./bench/compare -n 100 -methods iproute2,floor,nstopo,mininet,pyroute2,pyroute2-pushns
//	go run ./bench/compare -n 1000 -methods floor,nstopo,lab   # the star from a description (package lab)
//	go run ./bench/compare -rss-child 10000      # one 10,000-node build: time, RSS, slab
//	go run ./bench/compare -phases 1000          # 1, 2, 4 goroutines, phase by phase
//
// Every namespace is made with IPv6 off (netnsx.Config.IPv4Only, and the same sysctls
// for the floor and the scripts) unless -ipv4only=false: the star is an IPv4 lab, and
// IPv6 autoconfiguration, flooded by the bridge to every port, is what made a big star
// slow. Past 1000 leaves the star has a spine bridge and leaf bridges (star_linux.go).
//
// Each round runs every method once, in a rotating order, with a pause before each
// build so that the kernel has freed the namespaces of the one before.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/netnsx"
)

type result struct{ build, teardown time.Duration }

type method struct {
	name string
	run  func(n int, prefix string) (result, error)
}

func main() {
	sizes := flag.String("n", "10,100", "star sizes, comma-separated")
	rounds := flag.Int("rounds", 5, "rounds per size")
	script := flag.String("script", "bench/iproute2-star.sh", "the iproute2 script")
	ipMax := flag.Int("iproute2-max", 100, "largest N to run the iproute2 script for (it takes ~0.1 s a node)")
	pause := flag.Duration("pause", time.Second, "pause before each build, for the kernel to free the last one")
	only := flag.String("methods", "iproute2,floor,nstopo,nstopo-2g", "methods to run, comma-separated (also nstopo-4g, and lab: the star as a description built by package lab); the peers mininet, pyroute2 and pyroute2-pushns run only when named")
	python := flag.String("python", "/usr/bin/python3", "the Python that has Debian's mininet and python3-pyroute2")
	peersDir := flag.String("peers-dir", "bench", "the directory of mininet-star.py and pyroute2-star.py")
	peersMax := flag.Int("peers-max", 1000, "largest N to run the peers (mininet, pyroute2, pyroute2-pushns) for")
	ipv4Only := flag.Bool("ipv4only", true, "turn IPv6 off in every namespace before its interfaces exist (the peers' scripts get IPV4ONLY=1; Mininet's switch ports stay in the host namespace, left alone)")
	prefixFlag := flag.String("prefix", "", "namespace name prefix (default cmp<pid>-); a run deletes leftovers with its own prefix only")
	phases := flag.Int("phases", 0, "instead: time namespace creation, veth creation and address setup of this many leaves with 1, 2 and 4 goroutines")
	growth := flag.Int("growth", 0, "instead: attach this many veth pairs to one bridge, with IPv6 on and off, and print the cost per pair as it grows")
	rssChild := flag.Int("rss-child", 0, "instead: build and tear down a star of this size with nstopo in this process and print the times, peak RSS, open descriptors and kernel slab per node")
	flag.Parse()
	ipv4 = *ipv4Only
	prefix := *prefixFlag
	if prefix == "" {
		prefix = fmt.Sprintf("cmp%d-", os.Getpid())
	}
	if *rssChild > 0 {
		os.Exit(rss(*rssChild, prefix, *pause))
	}
	if *phases > 0 {
		if err := phaseRun(*phases, prefix, *pause); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		return
	}
	if *growth > 0 {
		if err := grow(*growth, *pause); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		return
	}
	pm, skipped := peerMethods(*python, *peersDir, strings.Split(*only, ","))
	for _, s := range skipped {
		fmt.Println(s)
	}
	if err := run(*sizes, *rounds, *script, *ipMax, *peersMax, *pause, prefix, strings.Split(*only, ","), pm); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// ipv4 is the -ipv4only flag, for every method (the scripts as IPV4ONLY=1).
var ipv4 bool

func run(sizes string, rounds int, script string, ipMax, peersMax int, pause time.Duration, prefix string, only []string, peers []method) error {
	var methods []method
	for _, m := range []method{
		{"iproute2", func(n int, prefix string) (result, error) { return iproute2(script, n, prefix) }},
		{"floor", floor},
		{"nstopo", nstopo(1)},
		{"nstopo-2g", nstopo(2)},
		{"nstopo-4g", nstopo(4)},
		{"lab", labMethod},
	} {
		if slices.Contains(only, m.name) {
			methods = append(methods, m)
		}
	}
	methods = append(methods, peers...)
	capped := func(m string, n int) bool {
		return m == "iproute2" && n > ipMax || slices.ContainsFunc(peers, func(p method) bool { return p.name == m }) && n > peersMax
	}
	fmt.Printf("IPv6 off (-ipv4only): %v; bridges hold at most %d leaves each\n", ipv4, PortsPerBridge)
	fmt.Printf("%-6s %-16s %12s %12s %14s %16s\n", "N", "method", "build", "teardown", "build/node", "(median of runs)")
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 60000 {
			return fmt.Errorf("bad size %q", f)
		}
		got := map[string][]result{}
		for r := 0; r < rounds; r++ {
			for k := range methods {
				m := methods[(k+r)%len(methods)] // rotate who goes first
				if capped(m.name, n) {
					continue
				}
				time.Sleep(pause)
				res, err := m.run(n, prefix)
				cleanup(prefix)
				if err != nil {
					return fmt.Errorf("%s N=%d: %w", m.name, n, err)
				}
				got[m.name] = append(got[m.name], res)
			}
		}
		med := map[string]result{}
		for _, m := range methods {
			rs := got[m.name]
			if len(rs) == 0 {
				continue
			}
			med[m.name] = median(rs)
			fmt.Printf("%-6d %-16s %12v %12v %14v %16d\n", n, m.name, med[m.name].build.Round(time.Microsecond),
				med[m.name].teardown.Round(time.Microsecond), (med[m.name].build / time.Duration(n)).Round(time.Microsecond), len(rs))
		}
		ns, fl := med["nstopo"], med["floor"]
		if ns.build == 0 {
			continue
		}
		for _, m := range methods { // every method against nstopo, from this run
			if r, ok := med[m.name]; ok && m.name != "nstopo" {
				fmt.Printf("N=%d: %s/nstopo build %.2fx, teardown %.2fx\n", n, m.name, ratio(r.build, ns.build), ratio(r.teardown, ns.teardown))
			}
		}
		if fl.build == 0 {
			continue
		}
		fmt.Printf("N=%d: nstopo/floor build %.2fx, teardown %.2fx; overhead %v a node\n",
			n, ratio(ns.build, fl.build), ratio(ns.teardown, fl.teardown), ((ns.build - fl.build) / time.Duration(n)).Round(time.Microsecond))
	}
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func median(rs []result) result {
	b := make([]time.Duration, len(rs))
	t := make([]time.Duration, len(rs))
	for i, r := range rs {
		b[i], t[i] = r.build, r.teardown
	}
	slices.Sort(b)
	slices.Sort(t)
	return result{b[len(b)/2], t[len(t)/2]}
}

func nstopo(workers int) func(n int, prefix string) (result, error) {
	return func(n int, prefix string) (result, error) {
		start := time.Now()
		s, err := BuildStar(prefix, n, workers, ipv4)
		if err != nil {
			return result{}, err
		}
		mid := time.Now()
		err = s.Teardown()
		return result{mid.Sub(start), time.Since(mid)}, err
	}
}

func floor(n int, prefix string) (result, error) {
	start := time.Now()
	s, err := BuildFloor(prefix, n, ipv4)
	if err != nil {
		return result{}, err
	}
	mid := time.Now()
	err = s.Teardown()
	return result{mid.Sub(start), time.Since(mid)}, err
}

var scriptOut = regexp.MustCompile(`build_s=([0-9.]+) teardown_s=([0-9.]+)`)

func iproute2(script string, n int, prefix string) (result, error) {
	cmd := exec.Command("bash", script, strconv.Itoa(n), prefix)
	if ipv4 {
		cmd.Env = append(os.Environ(), "IPV4ONLY=1")
	}
	return parseScript(cmd.CombinedOutput())
}

// parseScript reads the build and teardown seconds a script printed.
func parseScript(out []byte, err error) (result, error) {
	if err != nil {
		return result{}, fmt.Errorf("%v: %s", err, out)
	}
	m := scriptOut.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("unexpected output %q", out)
	}
	b, _ := strconv.ParseFloat(string(m[1]), 64)
	t, _ := strconv.ParseFloat(string(m[2]), 64)
	return result{time.Duration(b * 1e9), time.Duration(t * 1e9)}, nil
}

// cleanup removes whatever a failed run left with this prefix.
func cleanup(prefix string) {
	names, _ := netnsx.List()
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			_ = netnsx.Delete(name)
		}
	}
}

// rss builds and tears down a star of n with nstopo in this process, and prints the
// times, the peak RSS, the descriptors open after the build and the kernel's slab
// growth per namespace (/proc/meminfo Slab before and after the build).
func rss(n int, prefix string, pause time.Duration) int {
	defer cleanup(prefix)
	time.Sleep(pause)
	slab0, err := slab()
	start := time.Now()
	tenth, last := max(n/10, 1), start
	var tenths []time.Duration
	leafDone = func(i int) {
		if (i+1)%tenth == 0 {
			now := time.Now()
			tenths = append(tenths, now.Sub(last)/time.Duration(tenth))
			last = now
		}
	}
	var s *Star
	if err == nil {
		s, err = BuildStar(prefix, n, 1, ipv4)
	}
	build := time.Since(start)
	var slab1 uint64
	var fds []os.DirEntry
	if err == nil {
		slab1, err = slab()
	}
	if err == nil {
		fds, err = os.ReadDir("/proc/self/fd")
	}
	var teardown time.Duration
	if err == nil {
		start = time.Now()
		err = s.Teardown()
		teardown = time.Since(start)
	}
	var ru syscall.Rusage
	if err == nil {
		err = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		return 1
	}
	fmt.Printf("nstopo star N=%d (IPv6 off: %v, %d bridges): build %v (%v a node), teardown %v; peak RSS %.1f MiB; %d descriptors open after the build; slab +%.1f MiB, %.1f KiB a namespace\n",
		n, ipv4, bridges(n), build.Round(time.Millisecond), (build / time.Duration(n)).Round(time.Microsecond), teardown.Round(time.Millisecond),
		float64(ru.Maxrss)/1024, len(fds), float64(slab1-slab0)/(1<<20), float64(slab1-slab0)/1024/float64(n+1))
	fmt.Print("a node, by tenths of the build:")
	for _, d := range tenths {
		fmt.Printf(" %v", d.Round(10*time.Microsecond))
	}
	fmt.Println()
	return 0
}

// slab reads the kernel's slab memory, in bytes, from /proc/meminfo.
func slab() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "Slab:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no Slab in /proc/meminfo")
}

// grow prints the cost per veth pair, batch by batch, as one bridge gets more ports.
func grow(n int, pause time.Duration) error {
	batch := max(n/5, 1)
	for _, noIPv6 := range []bool{false, true} {
		time.Sleep(pause)
		prefix := fmt.Sprintf("grow%d-", os.Getpid())
		batches, err := Growth(prefix, n, batch, noIPv6)
		cleanup(prefix)
		if err != nil {
			return err
		}
		fmt.Printf("IPv6 off=%-5v per pair:", noIPv6)
		for i, b := range batches {
			fmt.Printf("  %d-%d: %v", i*batch+1, (i+1)*batch, (b / time.Duration(batch)).Round(time.Microsecond))
		}
		fmt.Println()
	}
	return nil
}
