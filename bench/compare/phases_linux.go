package main

import (
	"fmt"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// Phases is the star built one kind of work at a time, each spread over workers
// goroutines: n namespaces, then n veth pairs (no address) to one bridge, then an
// address on each inner end. It returns how long each phase took.
func Phases(prefix string, n, workers int, ipv4Only bool) (made, linked, addressed time.Duration, err error) {
	leaves := make([]*netnsx.NS, n)
	ends := make([]*netnsx.Link, n)
	lab, err := netnsx.Create(netnsx.Config{Name: prefix + "lab", IPv4Only: ipv4Only})
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() {
		all := []*netnsx.NS{lab}
		for _, ns := range leaves {
			if ns != nil {
				all = append(all, ns)
			}
		}
		if derr := netnsx.DeleteAll(all...); err == nil {
			err = derr
		}
	}()
	br, err := bridge.Create(lab, bridge.Config{Name: "br0"})
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	err = parallel(n, workers, func(i int) (err error) {
		leaves[i], err = netnsx.Create(netnsx.Config{Name: fmt.Sprintf("%s%d", prefix, i+1), IPv4Only: ipv4Only})
		return err
	})
	made = time.Since(start)
	if err != nil {
		return
	}
	start = time.Now()
	err = parallel(n, workers, func(i int) error {
		p, err := veth.Create(veth.Config{
			A: veth.End{NS: lab, Name: fmt.Sprintf("v%d", i+1), Master: br.Link},
			B: veth.End{NS: leaves[i], Name: "eth0"},
		})
		if err == nil {
			ends[i] = p.B
		}
		return err
	})
	linked = time.Since(start)
	if err != nil {
		return
	}
	start = time.Now()
	err = parallel(n, workers, func(i int) error { return ends[i].AddAddr(Addr(i + 1)) })
	addressed = time.Since(start)
	return
}

// phaseRun prints Phases for 1, 2 and 4 goroutines, three rounds each, interleaved.
func phaseRun(n int, prefix string, pause time.Duration) error {
	if n > PortsPerBridge {
		return fmt.Errorf("-phases %d: at most %d (one bridge)", n, PortsPerBridge)
	}
	fmt.Printf("N=%d, IPv6 off: %v; per phase, each round\n", n, ipv4)
	for round := 0; round < 3; round++ {
		for _, w := range []int{1, 2, 4} {
			time.Sleep(pause)
			made, linked, addressed, err := Phases(prefix, n, w, ipv4)
			cleanup(prefix)
			if err != nil {
				return err
			}
			fmt.Printf("round %d, %d goroutines: namespaces %v, veth pairs %v, addresses %v\n", round+1, w,
				made.Round(time.Millisecond), linked.Round(time.Millisecond), addressed.Round(time.Millisecond))
		}
	}
	return nil
}
