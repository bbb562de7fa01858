package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/nstopo/nstopo/netnsx"
)

// FieldError is one problem of a description: where it is, and what.
type FieldError struct {
	Path string // "topology.links[3].endpoints[1]", "topology.nodes.c1.bridges.br0.mtu"
	Err  error  // wraps netnsx.ErrInvalid
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

const (
	maxNameLen = 32 // Spec.Name
	maxNodeLen = 64 // a node name
	maxNSLen   = 255
	maxMTU     = 65535
	minMTU     = 68
)

// problems collects FieldErrors.
type problems []error

func (p *problems) add(path, format string, a ...any) {
	*p = append(*p, &FieldError{Path: path, Err: fmt.Errorf(format+": %w", append(a, netnsx.ErrInvalid)...)})
}

// Validate checks the whole description without touching the kernel and returns every
// problem at once, joined (errors.Join) as *FieldError values sorted by path, each
// wrapping netnsx.ErrInvalid; nil if there is none. The message of each is its path and
// what is wrong there:
//
//	topology.links[3].endpoints[1]: node "c9" not defined
func (s *Spec) Validate() error {
	if s == nil {
		return fmt.Errorf("lab: validate: nil spec: %w", netnsx.ErrInvalid)
	}
	var p problems
	switch {
	case s.Name == "":
		p.add("name", "required")
	case len(s.Name) > maxNameLen:
		p.add("name", "%q longer than %d bytes", s.Name, maxNameLen)
	case !allBytes(s.Name, isNameByte):
		p.add("name", "%q: only a-z, 0-9, '-', '_' and '.' are allowed", s.Name)
	}
	if s.Prefix != "" && !allBytes(s.Prefix, isNodeByte) {
		p.add("prefix", "%q: only letters, digits, '-', '_' and '.' are allowed", s.Prefix)
	}
	t := &s.Topology
	checkNodeFields(&p, "topology.defaults", t.Defaults)
	if len(t.Defaults.Bridges) > 0 {
		p.add("topology.defaults.bridges", "bridges are not defaults: give them to nodes")
	}
	if len(t.Defaults.Routes) > 0 {
		p.add("topology.defaults.routes", "routes are not defaults: give them to nodes")
	}
	if len(t.Nodes) == 0 {
		p.add("topology.nodes", "a lab needs at least one node")
	}
	ifs := map[string]map[string]string{} // node → interface → path of its definition
	claim := func(node, name, path string) {
		if ifs[node] == nil {
			ifs[node] = map[string]string{"lo": "the loopback"}
		}
		if prev, ok := ifs[node][name]; ok {
			p.add(path, "interface %q of node %q already defined at %s", name, node, prev)
			return
		}
		ifs[node][name] = path
	}
	nodes := map[string]Node{}
	v4 := map[string]netip.Addr{} // "node:if" → its first IPv4 address, for an overlay's VTEP
	for _, name := range names(t.Nodes) {
		path := "topology.nodes." + name
		switch {
		case name == "":
			p.add(path, "node name required")
		case len(name) > maxNodeLen:
			p.add(path, "node name longer than %d bytes", maxNodeLen)
		case !allBytes(name, isNodeByte):
			p.add(path, "node name %q: only letters, digits, '-', '_' and '.' are allowed", name)
		case name == "." || name == "..":
			p.add(path, "node name %q is not a file name", name)
		case len(s.Prefix)+len(name) > maxNSLen:
			p.add(path, "namespace name %q longer than %d bytes", s.Prefix+name, maxNSLen)
		}
		n := s.node(name)
		nodes[name] = n
		checkNodeFields(&p, path, t.Nodes[name])
		for _, br := range names(n.Bridges) {
			bp := path + ".bridges." + br
			checkIfname(&p, bp, br)
			claim(name, br, bp)
			b := n.Bridges[br]
			for _, a := range b.Addrs {
				if a.Addr().Is4() && !v4[name+":"+br].IsValid() {
					v4[name+":"+br] = a.Addr()
				}
			}
			checkMTU(&p, bp+".mtu", b.MTU)
			checkAddrs(&p, bp+".addrs", b.Addrs, n.IPv4Only)
		}
	}
	for i, l := range t.Links {
		lp := fmt.Sprintf("topology.links[%d]", i)
		checkMTU(&p, lp+".mtu", l.MTU)
		checkImpair(&p, lp+".impair", l.Impair)
		for j, e := range l.Endpoints {
			ep := fmt.Sprintf("%s.endpoints[%d]", lp, j)
			n, ok := nodes[e.Node]
			if e.Node == "" {
				p.add(ep, "node required")
				continue
			} else if !ok {
				p.add(ep, "node %q not defined", e.Node)
				continue
			}
			if !checkIfname(&p, ep+".interface", e.Interface) {
				continue
			}
			claim(e.Node, e.Interface, ep)
			checkAddrs(&p, ep+".addrs", e.Addrs, n.IPv4Only)
			for _, a := range e.Addrs {
				if a.Addr().Is4() && v4[e.String()] == (netip.Addr{}) {
					v4[e.String()] = a.Addr()
				}
			}
			if e.HardwareAddr != nil && (len(e.HardwareAddr) != 6 || e.HardwareAddr[0]&1 == 1) {
				p.add(ep+".mac", "%v is not a unicast Ethernet address", e.HardwareAddr)
			}
			if e.Bridge != "" {
				if _, ok := n.Bridges[e.Bridge]; !ok {
					p.add(ep+".bridge", "node %q has no bridge %q", e.Node, e.Bridge)
				}
			}
			checkImpair(&p, ep+".impair", e.Impair)
			if im, ip := l.impair(j), ep+".impair"; im != nil && im.Loss > 0 && len(e.Addrs) == 0 {
				if e.Impair == nil {
					ip = lp + ".impair"
				}
				p.add(ip+".loss", "loss on %s needs addresses on it: it drops what is sent into their subnets", e)
			}
		}
	}
	for i, o := range t.Overlays {
		op := fmt.Sprintf("topology.overlays[%d]", i)
		checkIfname(&p, op+".name", o.Name)
		if o.VNI > 1<<24-1 {
			p.add(op+".vni", "%d out of range 0..16777215", o.VNI)
		}
		if len(o.Members) < 2 {
			p.add(op+".members", "an overlay needs at least two members, has %d", len(o.Members))
		}
		seen := map[string]bool{}
		for j, m := range o.Members {
			mp := fmt.Sprintf("%s.members[%d]", op, j)
			n, ok := nodes[m.Node]
			if m.Node == "" {
				p.add(mp+".node", "required")
				continue
			} else if !ok {
				p.add(mp+".node", "node %q not defined", m.Node)
				continue
			}
			if seen[m.Node] {
				p.add(mp+".node", "node %q is a member twice", m.Node)
				continue
			}
			seen[m.Node] = true
			if o.Name != "" {
				claim(m.Node, o.Name, mp)
			}
			if m.Underlay == "" {
				p.add(mp+".underlay", "required: the interface that carries the VXLAN packets")
			} else if _, ok := ifs[m.Node][m.Underlay]; !ok {
				p.add(mp+".underlay", "node %q has no interface %q", m.Node, m.Underlay)
			} else if !m.Local.IsValid() && !v4[m.Node+":"+m.Underlay].IsValid() {
				p.add(mp+".local", "required: the spec gives %s:%s no IPv4 address", m.Node, m.Underlay)
			}
			if m.Local.IsValid() && m.Local.Is6() && n.IPv4Only {
				p.add(mp+".local", "IPv6 address %v in IPv4-only node %q", m.Local, m.Node)
			}
			if m.Bridge != "" {
				if _, ok := n.Bridges[m.Bridge]; !ok {
					p.add(mp+".bridge", "node %q has no bridge %q", m.Node, m.Bridge)
				}
			}
			checkAddrs(&p, mp+".addrs", m.Addrs, n.IPv4Only)
		}
	}
	for _, name := range names(t.Nodes) {
		n := nodes[name]
		for i, r := range n.Routes {
			rp := fmt.Sprintf("topology.nodes.%s.routes[%d]", name, i)
			if !r.Dst.IsValid() {
				p.add(rp+".dst", "required")
			}
			if r.Gateway.IsValid() && r.Dst.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
				p.add(rp+".via", "%v is not of the family of %v", r.Gateway, r.Dst)
			}
			if !r.Gateway.IsValid() && r.Dev == "" {
				p.add(rp, "a route needs a gateway (via) or a device (dev)")
			}
			if r.Dev != "" {
				if _, ok := ifs[name][r.Dev]; !ok {
					p.add(rp+".dev", "node %q has no interface %q", name, r.Dev)
				}
			}
			if n.IPv4Only && ((r.Dst.IsValid() && r.Dst.Addr().Is6()) || (r.Gateway.IsValid() && r.Gateway.Is6())) {
				p.add(rp, "IPv6 route in IPv4-only node %q", name)
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	sort.SliceStable(p, func(i, j int) bool { return p[i].(*FieldError).Path < p[j].(*FieldError).Path })
	plural := "s"
	if len(p) == 1 {
		plural = ""
	}
	return fmt.Errorf("lab: validate %s: %d problem%s:\n%w", s.Name, len(p), plural, errors.Join(p...))
}

// node returns the node called name with the defaults applied.
func (s *Spec) node(name string) Node {
	n, d := s.Topology.Nodes[name], s.Topology.Defaults
	n.IPv4Only = n.IPv4Only || d.IPv4Only
	n.Labels = merge(d.Labels, n.Labels)
	n.Sysctls = merge(d.Sysctls, n.Sysctls)
	if len(n.Exec) == 0 {
		n.Exec = d.Exec
	}
	if len(n.Start) == 0 {
		n.Start = d.Start
	}
	return n
}

func merge(base, over map[string]string) map[string]string {
	if len(base) == 0 {
		return over
	}
	m := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

func checkNodeFields(p *problems, path string, n Node) {
	for _, k := range names(n.Sysctls) {
		if !strings.HasPrefix(k, "net.") || strings.Contains(k, "/") || strings.Contains(k, "..") || strings.HasSuffix(k, ".") {
			p.add(path+".sysctls."+k, "only keys under net. belong to a namespace")
		}
	}
	for i, c := range n.Exec {
		if strings.TrimSpace(c) == "" {
			p.add(fmt.Sprintf("%s.exec[%d]", path, i), "empty command")
		}
	}
	for i, c := range n.Start {
		if strings.TrimSpace(c) == "" {
			p.add(fmt.Sprintf("%s.start[%d]", path, i), "empty command")
		}
	}
}

func checkIfname(p *problems, path, name string) bool {
	switch {
	case name == "":
		p.add(path, "interface name required")
	case len(name) > 15:
		p.add(path, "interface name %q longer than 15 bytes", name)
	case name == "." || name == ".." || !allBytes(name, func(c byte) bool { return c > ' ' && c < 0x7f && c != '/' && c != ':' }):
		p.add(path, "bad interface name %q", name)
	default:
		return true
	}
	return false
}

func checkMTU(p *problems, path string, mtu int) {
	if mtu != 0 && (mtu < minMTU || mtu > maxMTU) {
		p.add(path, "%d out of range %d..%d", mtu, minMTU, maxMTU)
	}
}

func checkAddrs(p *problems, path string, addrs []netip.Prefix, ipv4Only bool) {
	for i, a := range addrs {
		ap := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !a.IsValid():
			p.add(ap, "not an address with a prefix length")
		case a.Addr().Is4In6() || a.Addr().Zone() != "":
			p.add(ap, "%v: no mapped addresses or zones", a)
		case a.Addr().Is6() && ipv4Only:
			p.add(ap, "IPv6 address %v in an IPv4-only node", a)
		}
	}
}

// impair returns the impairment of end i: its own, or else the link's.
func (l Link) impair(i int) *Impairment {
	if l.Endpoints[i].Impair != nil {
		return l.Endpoints[i].Impair
	}
	return l.Impair
}

func checkImpair(p *problems, path string, im *Impairment) {
	if im == nil {
		return
	}
	if im.Rate != "" {
		if _, err := ParseRate(im.Rate); err != nil {
			p.add(path+".rate", "rate %q is not a positive rate such as \"10mbit\"", im.Rate)
		}
	}
	if im.Loss < 0 || im.Loss > 100 {
		p.add(path+".loss", "%d out of range 0..100 (percent)", im.Loss)
	}
}

// ParseRate reads a rate in tc's notation — a number and one of bit, kbit, mbit, gbit,
// tbit (bits per second) or bps, kbps, mbps, gbps, tbps (bytes per second); a bare number
// is bits per second — and returns bits per second.
func ParseRate(s string) (uint64, error) {
	units := []struct {
		suffix string
		mul    uint64
	}{
		{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
		{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
	}
	num, mul := strings.ToLower(strings.TrimSpace(s)), uint64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mul = strings.TrimSuffix(num, u.suffix), u.mul
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f*float64(mul) > 1<<63 || f*float64(mul) < 1 {
		return 0, fmt.Errorf("lab: rate %q: not a positive rate such as \"10mbit\": %w", s, netnsx.ErrInvalid)
	}
	return uint64(f * float64(mul)), nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func isNodeByte(c byte) bool {
	return isNameByte(c) || c >= 'A' && c <= 'Z'
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// Namespaces returns the names of the namespaces the lab makes, Prefix applied, sorted.
func (s *Spec) Namespaces() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.Topology.Nodes))
	for _, n := range names(s.Topology.Nodes) {
		out = append(out, s.Prefix+n)
	}
	sort.Strings(out)
	return out
}
