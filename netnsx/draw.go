package netnsx

import (
	"fmt"
	"net/netip"
	"strings"
)

// The pictures: namespaces as clusters, interfaces as nodes (lo left out), and three
// kinds of edge — a veth pair (solid), a bridge port to its bridge (dashed), and a VXLAN
// device to each remote VTEP (dotted, labelled with the VNI), drawn to the interface
// that owns the VTEP's address when it was inspected too.

// node is an interface to draw, with a stable position-based id.
type node struct {
	ns, link int
	info     *LinkInfo
}

type edge struct {
	from, to string // node ids
	style    string // "veth", "port", "vxlan"
	label    string
}

// graph lays the snapshot out once for both DOT and Mermaid.
type graph struct {
	clusters [][]node
	edges    []edge
	extra    []string // remote VTEPs not found among the inspected interfaces
}

func nodeID(ns, link int) string { return fmt.Sprintf("n%d_%d", ns, link) }

func (s *Snapshot) graph() graph {
	var g graph
	byName := map[[2]string]string{} // (namespace, link) -> id
	byAddr := map[netip.Addr]string{}
	for i := range s.Namespaces {
		ns := &s.Namespaces[i]
		var nodes []node
		for j := range ns.Links {
			l := &ns.Links[j]
			if l.Name == "lo" {
				continue
			}
			id := nodeID(i, j)
			nodes = append(nodes, node{ns: i, link: j, info: l})
			byName[[2]string{ns.Name, l.Name}] = id
			for _, a := range l.Addrs {
				byAddr[a.Addr()] = id
			}
		}
		g.clusters = append(g.clusters, nodes)
	}
	seen := map[[2]string]bool{}
	for _, nodes := range g.clusters {
		for _, n := range nodes {
			l, id := n.info, nodeID(n.ns, n.link)
			if l.Peer != nil {
				if peer, ok := byName[[2]string{l.Peer.Namespace, l.Peer.Name}]; ok && !seen[[2]string{peer, id}] {
					seen[[2]string{id, peer}] = true
					g.edges = append(g.edges, edge{from: id, to: peer, style: "veth"})
				}
			}
			if l.Master != "" {
				if m, ok := byName[[2]string{s.Namespaces[n.ns].Name, l.Master}]; ok {
					g.edges = append(g.edges, edge{from: id, to: m, style: "port"})
				}
			}
			if l.VXLAN != nil {
				for _, r := range l.VXLAN.Remotes {
					to, ok := byAddr[r]
					if !ok {
						to = "vtep_" + strings.NewReplacer(".", "_", ":", "_").Replace(r.String())
						byAddr[r] = to // declared once
						g.extra = append(g.extra, to+"\x00"+r.String())
					}
					g.edges = append(g.edges, edge{from: id, to: to, style: "vxlan", label: fmt.Sprintf("VNI %d", l.VXLAN.VNI)})
				}
			}
		}
	}
	return g
}

// nodeLabel is what a node shows: name, kind, global addresses, VXLAN parameters.
func nodeLabel(l *LinkInfo) []string {
	lines := []string{l.Name}
	if l.Kind != "" {
		lines = append(lines, l.Kind)
	}
	for _, a := range l.Addrs {
		if !a.Addr().IsLinkLocalUnicast() {
			lines = append(lines, a.String())
		}
	}
	if x := l.VXLAN; x != nil {
		lines = append(lines, fmt.Sprintf("VNI %d, UDP %d", x.VNI, x.Port))
	}
	return lines
}

// DOT renders the snapshot as a Graphviz graph: `dot -Tsvg` draws it.
func (s *Snapshot) DOT() string {
	g := s.graph()
	var b strings.Builder
	b.WriteString("graph nstopo {\n\trankdir=LR;\n\tnode [shape=box, fontname=\"Helvetica\"];\n\tedge [fontname=\"Helvetica\"];\n")
	for i, nodes := range g.clusters {
		fmt.Fprintf(&b, "\tsubgraph cluster_%d {\n\t\tlabel=%s;\n", i, dotQuote(s.Namespaces[i].Name))
		for _, n := range nodes {
			fmt.Fprintf(&b, "\t\t%s [label=%s];\n", nodeID(n.ns, n.link), dotQuote(strings.Join(nodeLabel(n.info), "\n")))
		}
		b.WriteString("\t}\n")
	}
	for _, x := range g.extra {
		id, addr, _ := strings.Cut(x, "\x00")
		fmt.Fprintf(&b, "\t%s [label=%s, shape=ellipse];\n", id, dotQuote("VTEP "+addr))
	}
	for _, e := range g.edges {
		attrs := map[string]string{"veth": "", "port": " [style=dashed, color=gray40]", "vxlan": " [style=dotted, color=blue, tooltip=" + dotQuote(e.label) + "]"}[e.style]
		fmt.Fprintf(&b, "\t%s -- %s%s;\n", e.from, e.to, attrs)
	}
	b.WriteString("}\n")
	return b.String()
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Mermaid renders the snapshot as a Mermaid flowchart, which Markdown viewers such as
// GitHub's draw from a ```mermaid block.
func (s *Snapshot) Mermaid() string {
	g := s.graph()
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, nodes := range g.clusters {
		fmt.Fprintf(&b, "\tsubgraph ns%d[%s]\n", i, mermaidQuote(s.Namespaces[i].Name))
		for _, n := range nodes {
			fmt.Fprintf(&b, "\t\t%s[%s]\n", nodeID(n.ns, n.link), mermaidQuote(strings.Join(nodeLabel(n.info), "<br/>")))
		}
		b.WriteString("\tend\n")
	}
	for _, x := range g.extra {
		id, addr, _ := strings.Cut(x, "\x00")
		fmt.Fprintf(&b, "\t%s([%s])\n", id, mermaidQuote("VTEP "+addr))
	}
	for _, e := range g.edges {
		switch e.style {
		case "veth":
			fmt.Fprintf(&b, "\t%s --- %s\n", e.from, e.to)
		case "port":
			fmt.Fprintf(&b, "\t%s -.- %s\n", e.from, e.to)
		default:
			fmt.Fprintf(&b, "\t%s -. %s .- %s\n", e.from, mermaidQuote(e.label), e.to)
		}
	}
	return b.String()
}

func mermaidQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
