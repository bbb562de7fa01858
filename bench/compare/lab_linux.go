package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/nstopo/nstopo/lab"
)

// StarSpec is the star as a lab description (package lab), under the same namespace
// names as BuildStar's: prefix+"lab" with the bridges, prefix+"1".. for the leaves.
func StarSpec(prefix string, n int, ipv4Only bool) *lab.Spec {
	hub := lab.Node{Bridges: map[string]lab.Bridge{}}
	s := &lab.Spec{Name: "star", Prefix: prefix, Topology: lab.Topology{
		Defaults: lab.Node{IPv4Only: ipv4Only},
		Nodes:    map[string]lab.Node{"lab": hub},
	}}
	for k := 0; k < bridges(n); k++ {
		br := lab.Bridge{}
		if k == 0 {
			br.Addrs = []netip.Prefix{netip.MustParsePrefix("172.16.0.1/16")}
		}
		hub.Bridges[fmt.Sprintf("br%d", k)] = br
		if k > 0 {
			s.Topology.Links = append(s.Topology.Links, lab.Link{Endpoints: [2]lab.Endpoint{
				{Node: "lab", Interface: fmt.Sprintf("up%d", k), Bridge: "br0"},
				{Node: "lab", Interface: fmt.Sprintf("down%d", k), Bridge: fmt.Sprintf("br%d", k)},
			}})
		}
	}
	for i := 1; i <= n; i++ {
		leaf := strconv.Itoa(i)
		s.Topology.Nodes[leaf] = lab.Node{}
		s.Topology.Links = append(s.Topology.Links, lab.Link{Endpoints: [2]lab.Endpoint{
			{Node: "lab", Interface: fmt.Sprintf("v%d", i), Bridge: fmt.Sprintf("br%d", leafBridge(n, i))},
			{Node: leaf, Interface: "eth0", Addrs: []netip.Prefix{Addr(i)}},
		}})
	}
	return s
}

// labMethod builds the star from its description with lab.Build and removes it with
// the Lab's Close.
func labMethod(n int, prefix string) (result, error) {
	dir, err := os.MkdirTemp("", "nstopo-compare-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	s := StarSpec(prefix, n, ipv4)
	start := time.Now()
	l, err := lab.Build(context.Background(), s, &lab.Options{StateDir: dir})
	if err != nil {
		return result{}, err
	}
	mid := time.Now()
	err = l.Close()
	return result{mid.Sub(start), time.Since(mid)}, err
}
