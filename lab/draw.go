package lab

import (
	"fmt"
	"strings"
)

// DOT draws the description as a Graphviz graph (`dot -Tsvg` renders it), without
// touching the kernel: a box per node, an ellipse per bridge inside its node, an edge per
// link between the nodes (or bridges) it joins labelled with its interfaces, and a
// diamond per overlay with a dashed edge to each member.
func (s *Spec) DOT() string {
	if s == nil {
		s = &Spec{}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n\tnode [shape=box];\n", s.Name)
	for _, n := range names(s.Topology.Nodes) {
		node := s.node(n)
		fmt.Fprintf(&b, "\tsubgraph %q {\n\t\tlabel=%q;\n\t\t%q [label=%q];\n", "cluster_"+n, s.Prefix+n, n, nodeLabel(n, node))
		for _, br := range names(node.Bridges) {
			fmt.Fprintf(&b, "\t\t%q [shape=ellipse, label=%q];\n", n+"/"+br, bridgeLabel(br, node.Bridges[br]))
			fmt.Fprintf(&b, "\t\t%q -- %q [style=dotted];\n", n, n+"/"+br)
		}
		b.WriteString("\t}\n")
	}
	for _, l := range s.Topology.Links {
		a, z := l.Endpoints[0], l.Endpoints[1]
		fmt.Fprintf(&b, "\t%q -- %q [label=%q];\n", vertex(a), vertex(z), endLabel(a)+" — "+endLabel(z))
	}
	for i, o := range s.Topology.Overlays {
		id := fmt.Sprintf("overlay%d", i)
		fmt.Fprintf(&b, "\t%q [shape=diamond, label=%q];\n", id, fmt.Sprintf("%s vni %d", o.Name, o.VNI))
		for _, m := range o.Members {
			v := m.Node
			if m.Bridge != "" {
				v = m.Node + "/" + m.Bridge
			}
			fmt.Fprintf(&b, "\t%q -- %q [style=dashed, label=%q];\n", v, id, memberLabel(o, m))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid draws the description as a Mermaid flowchart, which Markdown viewers such as
// GitHub's render from a ```mermaid block; what it shows is what DOT shows.
func (s *Spec) Mermaid() string {
	if s == nil {
		s = &Spec{}
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	id := func(v string) string {
		if _, ok := ids[v]; !ok {
			ids[v] = fmt.Sprintf("n%d", len(ids))
		}
		return ids[v]
	}
	for _, n := range names(s.Topology.Nodes) {
		node := s.node(n)
		fmt.Fprintf(&b, "  subgraph %s[%q]\n    %s[%q]\n", id("cluster "+n), s.Prefix+n, id(n), nodeLabel(n, node))
		for _, br := range names(node.Bridges) {
			fmt.Fprintf(&b, "    %s([%q])\n", id(n+"/"+br), bridgeLabel(br, node.Bridges[br]))
		}
		b.WriteString("  end\n")
	}
	for _, l := range s.Topology.Links {
		a, z := l.Endpoints[0], l.Endpoints[1]
		fmt.Fprintf(&b, "  %s ---|%q| %s\n", id(vertex(a)), endLabel(a)+" — "+endLabel(z), id(vertex(z)))
	}
	for i, o := range s.Topology.Overlays {
		oid := id(fmt.Sprintf("overlay %d", i))
		fmt.Fprintf(&b, "  %s{%q}\n", oid, fmt.Sprintf("%s vni %d", o.Name, o.VNI))
		for _, m := range o.Members {
			v := m.Node
			if m.Bridge != "" {
				v = m.Node + "/" + m.Bridge
			}
			fmt.Fprintf(&b, "  %s -.-|%q| %s\n", id(v), memberLabel(o, m), oid)
		}
	}
	return strings.NewReplacer(`\"`, "#quot;", `\n`, "<br>").Replace(b.String())
}

func nodeLabel(name string, n Node) string {
	l := name
	for _, k := range names(n.Labels) {
		l += fmt.Sprintf("\n%s=%s", k, n.Labels[k])
	}
	return l
}

func bridgeLabel(name string, b Bridge) string {
	return strings.TrimSpace(name + " " + prefixes(b.Addrs))
}

func vertex(e Endpoint) string {
	if e.Bridge != "" {
		return e.Node + "/" + e.Bridge
	}
	return e.Node
}

func endLabel(e Endpoint) string {
	return strings.TrimSpace(e.Interface + " " + prefixes(e.Addrs))
}

func memberLabel(o Overlay, m OverlayMember) string {
	return strings.TrimSpace(fmt.Sprintf("%s via %s %s", o.Name, m.Underlay, prefixes(m.Addrs)))
}

func prefixes[P fmt.Stringer](ps []P) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
