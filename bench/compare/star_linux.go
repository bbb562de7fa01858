package main

// The star of the comparison, built three ways — with nstopo, with raw
// vishvananda/netlink calls (the floor), and with the article's `ip` steps
// (../iproute2-star.sh) — for this command and for the benchmarks beside it: a bridge
// br0 (172.16.0.1/16) in a lab namespace and N namespaces, each joined to it by a veth
// whose inner end is eth0 with an address in 172.16.0.0/16, everything up; then
// everything deleted.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// Addr is the address of the i-th namespace of the star (1-based), as the script gives it.
func Addr(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(i%250 + 2)}), 16)
}

// Star is a star built with nstopo.
type Star struct {
	Lab    *netnsx.NS
	Leaves []*netnsx.NS

	mu   sync.Mutex
	made []*netnsx.NS // in creation order, for DeleteAll
}

// BuildStar builds the star with nstopo, using workers goroutines for the leaves
// (1: one after another). On error it removes what it made.
func BuildStar(prefix string, n, workers int) (_ *Star, err error) {
	s := &Star{Leaves: make([]*netnsx.NS, n)}
	defer func() {
		if err != nil {
			_ = s.Teardown()
		}
	}()
	if s.Lab, err = netnsx.New(prefix + "lab"); err != nil {
		return nil, err
	}
	s.made = append(s.made, s.Lab)
	br, err := bridge.Create(s.Lab, bridge.Config{Name: "br0", Addrs: []netip.Prefix{netip.MustParsePrefix("172.16.0.1/16")}})
	if err != nil {
		return nil, err
	}
	leaf := func(i int) error {
		ns, err := netnsx.New(fmt.Sprintf("%s%d", prefix, i+1))
		if err != nil {
			return err
		}
		s.Leaves[i] = ns
		s.mu.Lock()
		s.made = append(s.made, ns)
		s.mu.Unlock()
		_, err = veth.Create(veth.Config{
			A: veth.End{NS: s.Lab, Name: fmt.Sprintf("v%d", i+1), Master: br.Link},
			B: veth.End{NS: ns, Name: "eth0", Addrs: []netip.Prefix{Addr(i + 1)}},
		})
		return err
	}
	return s, parallel(n, workers, leaf)
}

// Teardown deletes every namespace of the star, newest first; their links go with them.
func (s *Star) Teardown() error {
	return netnsx.DeleteAll(s.made...)
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
// can approach. Peers are created in place and each namespace has one handle, but
// nothing is checked and no veth is waited for.
type FloorStar struct {
	names   []string
	handles []*netlink.Handle
	fds     []netns.NsHandle
}

// BuildFloor builds the star with raw netlink calls, one after another.
func BuildFloor(prefix string, n int) (_ *FloorStar, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	s := &FloorStar{}
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
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if serr := netns.Set(orig); serr != nil {
			panic(serr) // this thread is in the wrong namespace: do not let it run on
		}
		if err != nil {
			ns.Close()
			return nil, 0, err
		}
		s.handles, s.fds = append(s.handles, h), append(s.fds, ns)
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		return h, ns, err
	}
	lab, _, err := newNS(prefix + "lab")
	if err != nil {
		return nil, err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = "br0"
	br.Flags = net.FlagUp
	if err := lab.LinkAdd(br); err != nil {
		return nil, err
	}
	if err := lab.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 16, 0, 1), Mask: net.CIDRMask(16, 32)}}); err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		h, ns, err := newNS(fmt.Sprintf("%s%d", prefix, i))
		if err != nil {
			return nil, err
		}
		v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: "eth0", PeerNamespace: netlink.NsFd(ns), PeerTxQLen: -1}
		v.Name = fmt.Sprintf("v%d", i)
		v.Flags = net.FlagUp
		v.MasterIndex = br.Index
		if err := lab.LinkAdd(v); err != nil {
			return nil, err
		}
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			return nil, err
		}
		a := Addr(i)
		if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), 32)}}); err != nil {
			return nil, err
		}
		if err := h.LinkSetUp(eth0); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Teardown deletes the floor star's namespaces and closes its handles.
func (s *FloorStar) Teardown() error {
	var errs []error
	for i := len(s.names) - 1; i >= 0; i-- {
		errs = append(errs, netns.DeleteNamed(s.names[i]))
	}
	for i, h := range s.handles {
		h.Close()
		s.fds[i].Close()
	}
	*s = FloorStar{}
	return errors.Join(errs...)
}
