// Command inspect looks inside network namespaces the way the article does when it
// debugs the overlay ("验证docker local network"): Docker keeps each container's
// namespace at /var/run/docker/netns/<SandboxKey id>, where `ip netns` cannot see it, so
// it opens them by path. Without Docker it inspects the named namespaces under
// /run/netns. For each it prints the interfaces as `ip -br addr` would and the routes as
// `ip route` would, then writes the topology as Graphviz DOT and as Mermaid.
//
//	go run ./examples/inspect                          # as root
//	go run ./examples/inspect -dot t.dot && dot -Tsvg t.dot > t.svg
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nstopo/nstopo/internal/cli"
	"github.com/nstopo/nstopo/netnsx"
)

type options struct {
	docker, dot, mermaid string
}

func main() {
	cli.Defer() // teardown runs even when piped into head or interrupted once
	var o options
	flag.StringVar(&o.docker, "docker", "/var/run/docker/netns", "where Docker keeps its namespaces")
	flag.StringVar(&o.dot, "dot", "topology.dot", "write the Graphviz picture here (\"\": don't)")
	flag.StringVar(&o.mermaid, "mermaid", "topology.mmd", "write the Mermaid picture here (\"\": don't)")
	flag.Parse()
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, o options) error {
	nss, err := open(o.docker)
	if err != nil {
		return err
	}
	defer func() {
		for _, ns := range nss {
			ns.Close()
		}
	}()
	if len(nss) == 0 {
		fmt.Fprintln(w, "no Docker namespaces and no named ones: nothing to inspect")
		return nil
	}
	snap, err := netnsx.Inspect(nss...)
	if err != nil {
		return err
	}
	for _, ni := range snap.Namespaces {
		printNS(w, ni)
	}
	for path, text := range map[string]string{o.dot: snap.DOT(), o.mermaid: snap.Mermaid()} {
		if path == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", path)
	}
	return nil
}

// open returns Docker's namespaces if there are any, else the named ones.
func open(docker string) ([]*netnsx.NS, error) {
	var nss []*netnsx.NS
	entries, err := os.ReadDir(docker)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		ns, err := netnsx.OpenPath(filepath.Join(docker, e.Name())) // the container's SandboxKey
		if err != nil {
			continue // a container that just stopped, or a file that is no namespace
		}
		nss = append(nss, ns)
	}
	if len(nss) > 0 {
		return nss, nil
	}
	names, err := netnsx.List()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		ns, err := netnsx.Open(name)
		if err != nil {
			continue // deleted meanwhile
		}
		nss = append(nss, ns)
	}
	return nss, nil
}

// printNS prints like `ip -br addr` and `ip route`.
func printNS(w io.Writer, ni netnsx.NamespaceInfo) {
	fmt.Fprintf(w, "== %s\n", ni.Name)
	for _, l := range ni.Links {
		name := l.Name
		if l.Peer != nil {
			name += "@" + l.Peer.Name
		}
		state := "DOWN"
		if l.Up {
			state = "UP"
		}
		var addrs []string
		for _, a := range l.Addrs {
			addrs = append(addrs, a.String())
		}
		fmt.Fprintf(w, "%-16s %-6s %s\n", name, state, strings.Join(addrs, " "))
	}
	routes := append([]netnsx.Route(nil), ni.Routes...)
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Dst.Addr().Is4() && !routes[j].Dst.Addr().Is4() })
	for _, r := range routes {
		dst := r.Dst.String()
		if r.Dst.Bits() == 0 {
			dst = "default"
		}
		line := dst
		if r.Gateway.IsValid() {
			line += " via " + r.Gateway.String()
		}
		if r.Dev != "" {
			line += " dev " + r.Dev
		}
		if r.Src.IsValid() {
			line += " src " + r.Src.String()
		}
		fmt.Fprintln(w, line)
	}
}
