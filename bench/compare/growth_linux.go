package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
)

// Growth attaches n veth pairs to one bridge, lab to leaf, and returns the time each
// batch of `batch` pairs took: how the kernel's cost per pair grows with the number of
// interfaces. With noIPv6, IPv6 is turned off in both namespaces first, which removes
// the kernel's per-interface IPv6 autoconfiguration (link-local address, DAD, router
// solicitations, MLD).
func Growth(prefix string, n, batch int, noIPv6 bool) (_ []time.Duration, err error) {
	var made []*netnsx.NS
	defer func() {
		if derr := netnsx.DeleteAll(made...); err == nil {
			err = derr
		}
	}()
	for _, name := range []string{prefix + "lab", prefix + "leaf"} {
		ns, err := netnsx.New(name)
		if err != nil {
			return nil, err
		}
		made = append(made, ns)
		if noIPv6 {
			if err := ns.SetSysctl("net.ipv6.conf.default.disable_ipv6", "1"); err != nil {
				return nil, err
			}
		}
	}
	br, err := bridge.Create(made[0], bridge.Config{Name: "br0"})
	if err != nil {
		return nil, err
	}
	var batches []time.Duration
	start := time.Now()
	for i := 0; i < n; i++ {
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: made[0], Name: fmt.Sprintf("v%d", i), Master: br.Link},
			B: veth.End{NS: made[1], Name: fmt.Sprintf("e%d", i), Addrs: []netip.Prefix{Addr(i + 1)}},
		})
		if err != nil {
			return nil, err
		}
		if (i+1)%batch == 0 {
			batches = append(batches, time.Since(start))
			start = time.Now()
		}
	}
	return batches, nil
}
