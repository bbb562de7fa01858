package main

// The star of the comparison, built three ways — with nstopo, with raw
// vishvananda/netlink calls (the floor), and with the article's `ip` steps
// (../iproute2-star.sh) — for this command and for the benchmarks beside it: a bridge
// br0 (172.16.0.1/16) in a lab namespace and N namespaces, each joined to it by a veth
// whose inner end is eth0 with an address in 172.16.0.0/16, everything up; then
// everything deleted.
//
// A Linux bridge holds at most 1023 ports (BR_MAX_PORTS). Past PortsPerBridge leaves
// the star becomes a two-level tree in the lab namespace: br0 (the address) is the
// spine, and leaf bridges br1, br2, ... of at most PortsPerBridge ports each hang from
// it by a veth pair up<k> (on br0) and down<k> (on br<k>).
//
// Handles are not kept: each leaf namespace is closed as soon as its veth is made, and
// teardown deletes leaves by name, so a build holds a bounded number of descriptors
// (the lab's, and one leaf's per worker) at any N, not one per namespace.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// PortsPerBridge is how many leaves share one bridge; the kernel allows 1023 ports. A
// variable so that a test can build the tree small.
var PortsPerBridge = 1000

// Addr is the address of the i-th namespace of the star (1-based), as the script gives it.
func Addr(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(i%250 + 2)}), 16)
}

// bridges is how many bridges a star of n leaves has: one, or a spine and the leaf
// bridges; leafBridge is the bridge of the i-th leaf (1-based).
func bridges(n int) int {
	if n <= PortsPerBridge {
		return 1
	}
	return 1 + (n+PortsPerBridge-1)/PortsPerBridge
}

func leafBridge(n, i int) int {
	if n <= PortsPerBridge {
		return 0
	}
	return 1 + (i-1)/PortsPerBridge
}

// leafDone, if set, is called after each leaf of BuildStar is made (for -rss-child's
// times by tenths).
var leafDone func(i int)

// Star is a star built with nstopo.
type Star struct {
	Lab *netnsx.NS

	mu    sync.Mutex
	names []string // of the leaves made, each closed after its veth was made
}

// BuildStar builds the star with nstopo, using workers goroutines for the leaves
// (1: one after another). With ipv4Only every namespace is made with
// netnsx.Config.IPv4Only. On error it removes what it made.
func BuildStar(prefix string, n, workers int, ipv4Only bool) (_ *Star, err error) {
	s := &Star{}
	defer func() {
		if err != nil {
			_ = s.Teardown()
		}
	}()
	if s.Lab, err = netnsx.Create(netnsx.Config{Name: prefix + "lab", IPv4Only: ipv4Only}); err != nil {
		return nil, err
	}
	brs := make([]*bridge.Bridge, bridges(n))
	for k := range brs {
		cfg := bridge.Config{Name: fmt.Sprintf("br%d", k)}
		if k == 0 {
			cfg.Addrs = []netip.Prefix{netip.MustParsePrefix("172.16.0.1/16")}
		}
		if brs[k], err = bridge.Create(s.Lab, cfg); err != nil {
			return nil, err
		}
		if k > 0 {
			_, err = veth.Create(veth.Config{
				A: veth.End{NS: s.Lab, Name: fmt.Sprintf("up%d", k), Master: brs[0].Link},
				B: veth.End{NS: s.Lab, Name: fmt.Sprintf("down%d", k), Master: brs[k].Link},
			})
			if err != nil {
				return nil, err
			}
		}
	}
	leaf := func(i int) error {
		name := fmt.Sprintf("%s%d", prefix, i+1)
		ns, err := netnsx.Create(netnsx.Config{Name: name, IPv4Only: ipv4Only})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.names = append(s.names, name)
		s.mu.Unlock()
		_, err = veth.Create(veth.Config{
			A: veth.End{NS: s.Lab, Name: fmt.Sprintf("v%d", i+1), Master: brs[leafBridge(n, i+1)].Link},
			B: veth.End{NS: ns, Name: "eth0", Addrs: []netip.Prefix{Addr(i + 1)}},
		})
		err = errors.Join(err, ns.Close())
		if err == nil && leafDone != nil {
			leafDone(i)
		}
		return err
	}
	return s, parallel(n, workers, leaf)
}

// Teardown deletes every namespace of the star by name, newest first, the lab last;
// their links go with them.
func (s *Star) Teardown() error {
	var errs []error
	for i := len(s.names) - 1; i >= 0; i-- {
		errs = append(errs, netnsx.Delete(s.names[i]))
	}
	s.names = nil
	if s.Lab != nil {
		errs = append(errs, s.Lab.Delete())
	}
	return errors.Join(errs...)
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// FloorStar is the star built with raw vishvananda/netlink calls: the floor a library
// can approach. Peers are created in place and each namespace has one handle while it
// is being built, but nothing is checked and no veth is waited for.
type FloorStar struct {
	names []string // the lab first
	lab   *netlink.Handle
	labNS netns.NsHandle
}

// floorDisableIPv6 is the floor's way to Config.IPv4Only: the same two sysctls, written
// on the thread that is inside the new namespace, through a private procfs as netnsx
// writes them where it can (a lookup under /proc/sys/net grows with the number of
// namespaces: the naive way costs 9 ms a namespace at 4000).
func floorDisableIPv6() error {
	root := "/proc"
	if fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC); err == nil {
		defer unix.Close(fs)
		if err := unix.FsconfigCreate(fs); err == nil {
			if mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0); err == nil {
				defer unix.Close(mnt)
				root = fmt.Sprintf("/proc/thread-self/fd/%d", mnt)
			}
		}
	}
	for _, key := range []string{"all", "default"} {
		if err := os.WriteFile(root+"/sys/net/ipv6/conf/"+key+"/disable_ipv6", []byte("1"), 0); err != nil {
			return err
		}
	}
	return nil
}

// BuildFloor builds the star with raw netlink calls, one after another.
func BuildFloor(prefix string, n int, ipv4Only bool) (_ *FloorStar, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	s := &FloorStar{labNS: -1}
	defer func() {
		if err != nil {
			_ = s.Teardown()
		}
	}()
	// newNS makes a named namespace and a handle in it, and returns to orig.
	newNS := func(name string) (*netlink.Handle, netns.NsHandle, error) {
		ns, err := netns.NewNamed(name)
		if err != nil {
			return nil, 0, err
		}
		s.names = append(s.names, name)
		if ipv4Only {
			err = floorDisableIPv6()
		}
		var h *netlink.Handle
		if err == nil {
			h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		}
		if serr := netns.Set(orig); serr != nil {
			panic(serr) // this thread is in the wrong namespace: do not let it run on
		}
		if err != nil {
			ns.Close()
			return nil, 0, err
		}
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			h.Close()
			ns.Close()
			return nil, 0, err
		}
		return h, ns, nil
	}
	s.lab, s.labNS, err = newNS(prefix + "lab")
	if err != nil {
		return nil, err
	}
	lab := s.lab
	brs := make([]*netlink.Bridge, bridges(n))
	for k := range brs {
		br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
		br.Name = fmt.Sprintf("br%d", k)
		br.Flags = net.FlagUp
		if err := lab.LinkAdd(br); err != nil {
			return nil, err
		}
		brs[k] = br
		if k == 0 {
			if err := lab.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 16, 0, 1), Mask: net.CIDRMask(16, 32)}}); err != nil {
				return nil, err
			}
			continue
		}
		v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: fmt.Sprintf("down%d", k), PeerTxQLen: -1}
		v.Name = fmt.Sprintf("up%d", k)
		v.Flags = net.FlagUp
		v.MasterIndex = brs[0].Index
		if err := lab.LinkAdd(v); err != nil {
			return nil, err
		}
		down, err := lab.LinkByName(v.PeerName)
		if err == nil {
			err = lab.LinkSetMaster(down, br)
		}
		if err == nil {
			err = lab.LinkSetUp(down)
		}
		if err != nil {
			return nil, err
		}
	}
	for i := 1; i <= n; i++ {
		h, ns, err := newNS(fmt.Sprintf("%s%d", prefix, i))
		if err != nil {
			return nil, err
		}
		err = floorLeaf(lab, h, ns, brs[leafBridge(n, i)].Index, i)
		h.Close()
		ns.Close()
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// floorLeaf joins the i-th leaf (handle h, namespace ns) to the bridge with that index.
func floorLeaf(lab, h *netlink.Handle, ns netns.NsHandle, bridge, i int) error {
	v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: "eth0", PeerNamespace: netlink.NsFd(ns), PeerTxQLen: -1}
	v.Name = fmt.Sprintf("v%d", i)
	v.Flags = net.FlagUp
	v.MasterIndex = bridge
	if err := lab.LinkAdd(v); err != nil {
		return err
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return err
	}
	a := Addr(i)
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), 32)}}); err != nil {
		return err
	}
	return h.LinkSetUp(eth0)
}

// Teardown deletes the floor star's namespaces by name, newest first, and closes the
// lab's handle.
func (s *FloorStar) Teardown() error {
	var errs []error
	for i := len(s.names) - 1; i >= 0; i-- {
		errs = append(errs, netns.DeleteNamed(s.names[i]))
	}
	if s.lab != nil {
		s.lab.Close()
	}
	if s.labNS >= 0 {
		s.labNS.Close()
	}
	*s = FloorStar{labNS: -1}
	return errors.Join(errs...)
}
