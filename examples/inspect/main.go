// Command inspect looks inside network namespaces the way the article does when it
// debugs the overlay ("验证docker local network"): Docker keeps each container's
// namespace at /var/run/docker/netns/<SandboxKey id>, where `ip netns` cannot see it, so
// it opens them by path. Without Docker it inspects the named namespaces under
// /run/netns. For each it prints the interfaces as `ip -br addr` would and the routes as
// `ip route` would; with -draw it prints the topology as a picture instead, on stdout,
// and the listing on stderr.
//
//	go run ./examples/inspect                          # as root
//	go run ./examples/inspect -draw dot | dot -Tsvg > t.svg
//	go run ./examples/inspect -draw mermaid            # for a Markdown page
//
// It takes the flags of the other examples, but it only reads: it builds nothing and
// removes nothing, so -keep changes nothing and -clean says there is nothing to clean.
// It runs without a user namespace of its own (one would hide the machine's
// namespaces), so it needs root. It exits 0 on success, 1 on failure, 2 on a bad flag.
//
// The example uses only nstopo's public API: copy it out and change it.
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

	"github.com/nstopo/nstopo/netnsx"
)

type options struct {
	docker string
	draw   string // "dot" or "mermaid": print the picture
}

func main() {
	var o options
	flag.StringVar(&o.docker, "docker", "/var/run/docker/netns", "where Docker keeps its namespaces")
	flag.StringVar(&o.draw, "draw", "", `print the topology as a picture on stdout, the listing on stderr: "dot" (Graphviz) or "mermaid"`)
	flag.Bool("keep", false, "accepted as by the other examples; inspect removes nothing anyway")
	clean := flag.Bool("clean", false, "accepted as by the other examples; inspect builds nothing, so there is nothing to clean")
	flag.Parse()
	if o.draw != "" && o.draw != "dot" && o.draw != "mermaid" {
		fmt.Fprintf(os.Stderr, "inspect: -draw must be \"dot\" or \"mermaid\", not %q\n", o.draw)
		os.Exit(2)
	}
	if *clean {
		fmt.Fprintln(os.Stderr, "inspect: nothing to clean: inspect only reads namespaces")
		return
	}
	report, picture := io.Writer(os.Stdout), io.Writer(nil)
	if o.draw != "" {
		report, picture = os.Stderr, os.Stdout // stdout carries only the picture
	}
	if err := run(report, picture, o); err != nil {
		fmt.Fprintln(os.Stderr, "inspect:", err)
		os.Exit(1)
	}
}

// run lists the namespaces to w and, with o.draw, prints their picture to pic.
func run(w, pic io.Writer, o options) error {
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
	switch o.draw {
	case "dot":
		_, err = io.WriteString(pic, snap.DOT())
	case "mermaid":
		_, err = io.WriteString(pic, snap.Mermaid())
	}
	return err
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
